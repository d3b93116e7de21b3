"""/cancel and unknown commands."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.chat import rendering as render
from bot.chat.context import BotContext
from bot.chat.handler_tools import crisis_first, send, user_language


async def cancel(update: Update, context: BotContext) -> None:
    """Stop whatever was going on and say what the person can do next."""
    lang = await user_language(update, context)
    if context.user_data:
        context.user_data.clear()
    user = update.effective_user
    if user is not None:
        await context.services.storage.clear_flow(context.services.user_key(user.id))
    content = context.services.content
    await send(
        update,
        render.Rendered(
            content.text(lang, "cancel.done"), render.main_menu_keyboard(content, lang)
        ),
    )


async def unknown_command(update: Update, context: BotContext) -> None:
    """A command the bot does not have (or one the person may not use)."""
    message = update.effective_message
    # "/hjelp jeg vil ikke leve" is a cry for help typed as a command: numbers first.
    if message is not None and await crisis_first(update, context, message.text):
        return
    lang = await user_language(update, context)
    content = context.services.content
    await send(
        update,
        render.Rendered(
            content.text(lang, "errors.unknown_command"), render.main_menu_keyboard(content, lang)
        ),
    )


HANDLERS = [
    CommandHandler("cancel", cancel, filters.ChatType.PRIVATE),
    # Must come after every other command handler (see bot.composition).
    MessageHandler(filters.ChatType.PRIVATE & filters.COMMAND, unknown_command),
]
