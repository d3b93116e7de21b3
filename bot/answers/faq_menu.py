"""/faq: browse topics by category; topic buttons anywhere open a topic's answer."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler, filters

from bot.chat import rendering as render
from bot.chat.context import BotContext
from bot.chat.handler_tools import send, show, user_language
from bot.chat.topic_answers import send_forwardable as send_forwardable
from bot.chat.topic_answers import show_topic as show_topic


async def faq_command(update: Update, context: BotContext) -> None:
    """Show the topic categories."""
    lang = await user_language(update, context)
    await send(update, render.faq_menu(context.services.content, lang))


async def show_menu(update: Update, context: BotContext, lang: str) -> None:
    await show(update, render.faq_menu(context.services.content, lang))


async def show_category(update: Update, context: BotContext, lang: str, category: str) -> None:
    await show(update, render.faq_category(context.services.content, lang, category))


HANDLERS = [CommandHandler("faq", faq_command, filters.ChatType.PRIVATE)]
