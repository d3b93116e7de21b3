"""Small helpers every handler uses: language, privacy-safe event logging, sending replies."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from telegram import CallbackQuery, InlineKeyboardButton, Update, User
from telegram.error import BadRequest

from bot.botapi.reply_bot import ReplyBot
from bot.chat.context import BotContext
from bot.chat.rendering import Rendered, crisis_reply
from bot.config import LANGUAGES
from bot.content import Content
from bot.ops.metrics import METRICS
from bot.roles.lookup import Roles, roles_for
from bot.services import Services

events = logging.getLogger("selvhjelp.events")

# Telegram's language codes that mean the bot should speak bokmål by default.
NORWEGIAN_CODES = ("nb", "nn", "no", "se", "sv", "da")


def language_from_telegram(user: User | None, default: str) -> str:
    code = (user.language_code or "").lower() if user else ""
    if not code:
        return default
    return "nb" if code.split("-")[0] in NORWEGIAN_CODES else "en"


CONVERSATION_LANGUAGE = "lang"  # chat_data key: the language this chat has been held in


async def user_language(update: Update, context: BotContext) -> str:
    """The chat language: the person's /language choice, else the language the conversation
    has been held in (memory only, bot.chat.language), else Telegram's language code."""
    services = context.services
    user = update.effective_user
    if user is not None:
        chosen = await services.storage.get_language(services.pseudonymizer.user_key(user.id))
        if chosen in LANGUAGES:
            return chosen
    held = context.chat_data.get(CONVERSATION_LANGUAGE) if context.chat_data is not None else None
    if held in LANGUAGES:
        return str(held)
    return language_from_telegram(user, services.config.default_language)


async def language_is_firm(update: Update, context: BotContext) -> bool:
    """Whether the chat language was chosen (/language) or the conversation has one."""
    user = update.effective_user
    if user is None:
        return False
    services = context.services
    if await services.storage.get_language(services.user_key(user.id)) in LANGUAGES:
        return True
    return context.chat_data is not None and CONVERSATION_LANGUAGE in context.chat_data


def hold_language(context: BotContext, lang: str) -> None:
    """Keep `lang` as the conversation's language (memory only; /forget clears it)."""
    if context.chat_data is not None:
        context.chat_data[CONVERSATION_LANGUAGE] = lang


@dataclass(frozen=True)
class Actor:
    """Someone about to use a role: their roles are read fresh (config.yaml and grants)."""

    user_id: int
    key: str
    roles: Roles
    lang: str


async def acting(update: Update, context: BotContext) -> Actor | None:
    """The person behind the update with their current roles; None when there is no person."""
    user = update.effective_user
    if user is None:
        return None
    services = context.services
    key = services.user_key(user.id)
    roles = await roles_for(services.config, services.storage, key, user.id)
    return Actor(user.id, key, roles, await user_language(update, context))


async def signed_press(
    update: Update, context: BotContext, allowed: Callable[[Roles], bool]
) -> tuple[Actor, str] | None:
    """A press on a privileged button: the signature must be this user's and the role current.
    Answers the press (the stale-button alert when refused) and returns the actor and the data."""
    query = update.callback_query
    if query is None or query.data is None:
        return None
    services = context.services
    actor = await acting(update, context)
    data = services.signer.verify(query.from_user.id, query.data)
    if actor is None or data is None or not allowed(actor.roles):
        lang = await user_language(update, context)
        await refuse_press(query, services.content, lang)
        return None
    await query.answer()
    return actor, data


async def refuse_press(query: CallbackQuery, content: Content, lang: str) -> None:
    """Answer a press that is forged, someone else's or out of date with the stale-button alert."""
    await query.answer(content.text(lang, "errors.stale_button"), show_alert=True)


def signed_button(services: Services, user_id: int, text: str, data: str) -> InlineKeyboardButton:
    """A button whose data only this user can send back (privileged actions)."""
    return InlineKeyboardButton(text, callback_data=services.signer.sign(user_id, data))


async def send(update: Update, rendered: Rendered) -> None:
    """Send `rendered` to the chat the update came from."""
    chat = update.effective_chat
    if chat is None:
        return
    bot = chat.get_bot()
    if isinstance(bot, ReplyBot):  # always, in an app from bot.composition.build_application
        await bot.send_text(chat.id, rendered.text, rendered.keyboard)
    else:
        await chat.send_message(rendered.text, reply_markup=rendered.keyboard)


async def show(update: Update, rendered: Rendered) -> None:
    """Reply to a button press by editing its message in place; a new message otherwise."""
    query = update.callback_query
    if query is not None and query.message is not None:
        message, bot = query.message, query.get_bot()
        try:
            if isinstance(bot, ReplyBot):
                await bot.edit_text(
                    message.chat.id, message.message_id, rendered.text, rendered.keyboard
                )
            else:
                await query.edit_message_text(rendered.text, reply_markup=rendered.keyboard)
            return
        except BadRequest:
            pass  # too old to edit, or unchanged: a fresh message is just as good
    await send(update, rendered)


async def crisis_first(update: Update, context: BotContext, text: str | None) -> bool:
    """For messages that are not questions (captions, unknown commands, group messages):
    if the words signal a crisis, send the emergency numbers now. True if it did."""
    services = context.services
    found = services.crisis.assess(text)
    if found is None:
        return False
    lang = services.faq.detect_language(text or "", await user_language(update, context))
    events.info("crisis_reply kind=%s tier=%s lang=%s", found.kind, found.tier, lang)
    METRICS.crisis_reply(found.tier)  # free text's crisis replies: Services.reply_listener
    await send(
        update, crisis_reply(services.content, services.config, lang, found.kind, found.tier)
    )
    return found.is_crisis
