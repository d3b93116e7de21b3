"""/privacy (what is stored, for how long, how to erase it) and /forget (erase, after a yes)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler, filters

from bot.chat import rendering as render
from bot.chat.context import BotContext
from bot.chat.handler_tools import events, send, show, user_language
from bot.interest.retention import OUTBOX_KEEP_DAYS
from bot.weeks import week_index


async def privacy_command(update: Update, context: BotContext) -> None:
    """Explain, in plain words, what the bot keeps."""
    lang = await user_language(update, context)
    services = context.services
    config = services.config
    backups = (
        services.content.text(lang, "privacy.backups_daily", keep=config.backup_keep)
        if config.backup_daily
        else services.content.text(lang, "privacy.backups_other")
    )
    text = services.content.text(
        lang,
        "privacy.text",
        backups=backups,
        retention_days=services.config.retention_days,
        reminder_days=services.config.reminder_days,
        outbox_days=OUTBOX_KEEP_DAYS,
    )
    await send(update, render.Rendered(text))


async def forget_command(update: Update, context: BotContext) -> None:
    """Ask for confirmation before erasing anything."""
    lang = await user_language(update, context)
    await send(update, render.forget_confirm(context.services.content, lang))


async def confirm_forget(update: Update, context: BotContext, lang: str, confirmed: bool) -> None:
    """Erase everything about the person at once, or leave it all as it was."""
    services = context.services
    user = update.effective_user
    if not confirmed or user is None:
        await show(update, render.Rendered(services.content.text(lang, "forget.kept")))
        return
    week = week_index(services.now(), services.config.timezone)
    await services.storage.forget_resident(services.user_key(user.id), week)
    if context.user_data:
        context.user_data.clear()
    if context.chat_data:  # the conversation's language, held in memory
        context.chat_data.clear()
    events.info("forget done")
    await show(update, render.Rendered(services.content.text(lang, "forget.done")))


HANDLERS = [
    CommandHandler("privacy", privacy_command, filters.ChatType.PRIVATE),
    CommandHandler("forget", forget_command, filters.ChatType.PRIVATE),
]
