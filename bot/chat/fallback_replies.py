"""The reply to a command the bot does not have, shared by every feature.

A feature's command refuses someone without the role exactly as an unknown command is refused,
so nobody learns that role commands exist; the catch-all handler (bot.general.cancel_unknown)
uses the same reply.
"""

from __future__ import annotations

from telegram import Update

from bot.chat import rendering as render
from bot.chat.context import BotContext
from bot.chat.handler_tools import crisis_first, send, user_language


async def unknown_command(update: Update, context: BotContext) -> None:
    """A command the bot does not have (or one the person may not use)."""
    message = update.effective_message
    # "/hjelp jeg vil ikke leve" is a cry for help typed as a command: numbers first.
    await reply_with_menu(
        update, context, message.text if message else None, "errors.unknown_command"
    )


async def reply_with_menu(
    update: Update, context: BotContext, said: str | None, text_key: str
) -> None:
    """What the bot cannot take (an unknown command, a sticker): the emergency numbers if `said`
    signals a crisis, else the text `text_key` with the main menu."""
    if update.effective_message is not None and await crisis_first(update, context, said):
        return
    lang = await user_language(update, context)
    content = context.services.content
    await send(
        update,
        render.Rendered(content.text(lang, text_key), render.main_menu_keyboard(content, lang)),
    )
