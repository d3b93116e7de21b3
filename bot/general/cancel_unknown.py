"""/cancel and unknown commands."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.chat import rendering as render
from bot.chat.context import BotContext
from bot.chat.fallback_replies import unknown_command
from bot.chat.handler_tools import send, user_language


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


HANDLERS = [
    CommandHandler("cancel", cancel, filters.ChatType.PRIVATE),
    # Must come after every other command handler (see bot.composition).
    MessageHandler(filters.ChatType.PRIVATE & filters.COMMAND, unknown_command),
]
