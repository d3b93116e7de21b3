"""Free text in a private chat: crisis check first, then the best FAQ answer.

The text is analysed in memory only: it is never stored, and logs carry the decision (kind,
topic id, confidence, language), never the words or who wrote them.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import MessageHandler, filters

from bot.answers import faq_menu
from bot.answers.answering import Reply, crisis_reply, faq_reply
from bot.chat import language as chat_language
from bot.chat import rendering as render
from bot.chat.context import BotContext
from bot.chat.fallback_replies import reply_with_menu
from bot.chat.handler_tools import (
    events,
    hold_language,
    language_is_firm,
    send,
    user_language,
)
from bot.chat.text_routes import route_for


async def on_text(update: Update, context: BotContext) -> None:
    """Answer a question (new or edited) in the question's own language."""
    message = update.effective_message
    if message is None or not message.text:
        return
    services = context.services
    chat_lang = await user_language(update, context)
    # Crisis language first, always, whoever writes and whatever they are doing.
    crisis = crisis_reply(message.text, chat_lang, services.faq, services.crisis)
    if crisis is not None:
        await _reply(update, context, crisis)
    # Only someone in a multi-step flow can be typing into one (most people never are); the
    # flow's feature takes the text through its route (bot.chat.text_routes, in bot_data).
    user = update.effective_user
    flow = services.storage.flow_name(services.user_key(user.id)) if user is not None else None
    route = route_for(context.bot_data.text_routes, flow)
    # A coordinator's invitation or an office's announcement being composed keeps its text
    # (after the numbers, if any: an announcement may well speak of suicide). Only people
    # holding those roles ever have such a draft.
    if (
        route is not None
        and route.compose is not None
        and await route.compose(update, context, message.text)
    ):
        return
    if crisis is not None and crisis.crisis_tier != "check":
        if route is not None and route.after_crisis is not None:
            await route.after_crisis(update, context)  # the step they were at
        return
    # Then an answer typed into the flow (or a question asked mid-way, with the step shown
    # again after it); everything else is a question.
    if (
        route is not None
        and route.answer is not None
        and await route.answer(
            update, context, message.text, lambda reply: _reply(update, context, reply)
        )
    ):
        return
    firm = await language_is_firm(update, context)
    reply = faq_reply(message.text, chat_lang, services.faq, firm)
    # A message with clear evidence of its language sets the conversation's (memory only).
    if chat_language.remembered(reply.lang, services.faq.read(message.text, chat_lang).margin):
        hold_language(context, reply.lang)
    await _reply(update, context, reply)


async def _reply(update: Update, context: BotContext, reply: Reply) -> None:
    """Log the decision (never the text), tell any listener, and send what the person sees."""
    services = context.services
    if reply.kind == "crisis":
        events.info(
            "crisis_reply kind=%s tier=%s lang=%s",
            reply.crisis_kind,
            reply.crisis_tier,
            reply.lang,
        )
    else:
        events.info(
            "reply kind=%s topic=%s confidence=%.2f lang=%s",
            reply.kind,
            reply.topic_id or "-",
            reply.confidence,
            reply.lang,
        )
    if services.reply_listener is not None:
        services.reply_listener(reply)
    await send(update, render.render_reply(reply, services.content, services.config))
    if reply.kind == "answer" and reply.topic_id:
        await faq_menu.send_forwardable(update, context, reply.lang, reply.topic_id)


async def on_other(update: Update, context: BotContext) -> None:
    """Stickers, photos, voice and the like: say kindly that the bot reads text only."""
    message = update.effective_message
    await reply_with_menu(
        update, context, message.caption if message else None, "errors.text_only"
    )


FREE_TEXT = MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, on_text)
NOT_TEXT = MessageHandler(
    filters.ChatType.PRIVATE & ~filters.TEXT & ~filters.StatusUpdate.ALL, on_other
)
