"""Small helpers every handler uses: language, privacy-safe event logging, sending replies."""

from __future__ import annotations

import logging

from telegram import Update, User
from telegram.error import BadRequest

from bot.config import LANGUAGES
from bot.render import Rendered
from bot.services import BotContext

events = logging.getLogger("selvhjelp.events")

# Telegram's language codes that mean the bot should speak bokmål by default.
NORWEGIAN_CODES = ("nb", "nn", "no", "se", "sv", "da")


def language_from_telegram(user: User | None, default: str) -> str:
    code = (user.language_code or "").lower() if user else ""
    if not code:
        return default
    return "nb" if code.split("-")[0] in NORWEGIAN_CODES else "en"


async def user_language(update: Update, context: BotContext) -> str:
    """The chat language: the person's /language choice, else from Telegram's language code."""
    services = context.services
    user = update.effective_user
    if user is not None:
        chosen = await services.storage.get_language(services.pseudonymizer.user_key(user.id))
        if chosen in LANGUAGES:
            return chosen
    return language_from_telegram(user, services.config.default_language)


async def send(update: Update, rendered: Rendered) -> None:
    """Send `rendered` to the chat the update came from."""
    chat = update.effective_chat
    if chat is None:
        return
    await chat.send_message(rendered.text, reply_markup=rendered.keyboard)


async def show(update: Update, rendered: Rendered) -> None:
    """Reply to a button press by editing its message in place; a new message otherwise."""
    query = update.callback_query
    if query is not None and query.message is not None:
        try:
            await query.edit_message_text(rendered.text, reply_markup=rendered.keyboard)
            return
        except BadRequest:
            pass  # too old to edit, or unchanged: a fresh message is just as good
    await send(update, rendered)
