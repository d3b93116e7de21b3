"""The error handler: log the failure without any message text or ids, then apologise."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.chat import rendering as render
from bot.chat.context import BotContext
from bot.chat.handler_tools import language_from_telegram, send
from bot.security.log_scrub import describe_exception
from bot.storage.write_errors import disk_full

log = logging.getLogger("selvhjelp.errors")
DISK_FULL = (
    "database write refused: the disk is full (or the database reached its size limit); "
    "free space in the data folder. Answers that need no writing go on meanwhile"
)


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
    if isinstance(error, RetryAfter):  # bot.botapi.reply_bot waited and tried already
        log.warning("Telegram's flood control: a reply was not sent")
        return
    if error is None:
        log.error("handler failed: no exception given")
    elif disk_full(error):
        log.error(DISK_FULL)  # one clear line: the operator's problem, not a bug
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
