"""Every inline button press: validated by render.parse_callback, then routed to its feature.

Forged, stale or malformed callback data gets a short "this button no longer works" answer.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler

from bot.answers import faq_menu
from bot.chat.context import BotContext
from bot.chat.handler_tools import refuse_press, user_language
from bot.chat.rendering import parse_callback
from bot.general import language, privacy, start


async def on_button(update: Update, context: BotContext) -> None:
    """Route a button press; every press is answered so the client stops its spinner."""
    query = update.callback_query
    if query is None:
        return
    services = context.services
    lang = await user_language(update, context)
    callback = parse_callback(query.data, services.content)
    if callback is None or query.message is None:
        await refuse_press(query, services.content, lang)
        return
    await query.answer()
    if callback.action == "topic":
        await faq_menu.show_topic(update, context, lang, callback.arg)
    elif callback.action == "category":
        await faq_menu.show_category(update, context, lang, callback.arg)
    elif callback.action == "menu":
        await faq_menu.show_menu(update, context, lang)
    elif callback.action == "lang":
        await language.choose(update, context, callback.arg)
    elif callback.action == "forget":
        await privacy.confirm_forget(update, context, lang, callback.arg == "yes")
    elif callback.action == "help":
        await start.help_command(update, context)


HANDLERS = [CallbackQueryHandler(on_button)]
