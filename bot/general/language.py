"""/language: choose bokmål or English for this chat."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler, filters

from bot.chat import rendering as render
from bot.chat.context import BotContext
from bot.chat.handler_tools import send, show, user_language


async def language_command(update: Update, context: BotContext) -> None:
    """Offer the languages as buttons."""
    lang = await user_language(update, context)
    await send(update, render.language_choice(context.services.content, lang))


async def choose(update: Update, context: BotContext, lang: str) -> None:
    """Remember the choice (under the pseudonymous key) and confirm in the new language."""
    services = context.services
    user = update.effective_user
    if user is None:
        return
    await services.storage.set_language(services.pseudonymizer.user_key(user.id), lang)
    content = services.content
    text = content.text(lang, "language.changed")
    await show(update, render.Rendered(text, render.main_menu_keyboard(content, lang)))


HANDLERS = [CommandHandler("language", language_command, filters.ChatType.PRIVATE)]
