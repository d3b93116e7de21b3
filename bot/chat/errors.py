"""The error handler: log the failure without any message text or ids, then apologise."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError

from bot.chat import rendering as render
from bot.chat.context import BotContext
from bot.chat.handler_tools import language_from_telegram, send
from bot.security.log_scrub import describe_exception

log = logging.getLogger("selvhjelp.errors")


async def on_error(update: object, context: BotContext) -> None:
    """Log the exception's type and where it was raised (never the update, never the
    exception's text, which can quote what the person wrote), then tell the person."""
    error = context.error
    if isinstance(error, Forbidden):
        log.info("user blocked the bot")
        return
    if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
        log.warning("network error talking to Telegram: %s", type(error).__name__)
        return
    if error is None:
        log.error("handler failed: no exception given")
    else:
        log.error("handler failed: %s", describe_exception(error))
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    services = context.services
    lang = language_from_telegram(update.effective_user, services.config.default_language)
    try:
        await send(update, render.Rendered(services.content.text(lang, "errors.internal")))
    except TelegramError:
        log.warning("could not tell the user about the failure")
