"""Group chats: personal conversations belong in private, so answer with a link to one.

Crisis language is still answered at once, in the group, before anything else.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import MessageHandler, filters

from bot.chat import rendering as render
from bot.chat.context import BotContext
from bot.chat.handler_tools import events, language_from_telegram, send


async def in_group(update: Update, context: BotContext) -> None:
    """Point to a private chat; never discuss anything personal where others can read it."""
    services = context.services
    message = update.effective_message
    lang = language_from_telegram(update.effective_user, services.config.default_language)
    text = (message.text or message.caption) if message is not None else None
    found = services.crisis.assess(text)
    if found is not None:  # in a group too, and the gentle check as well: better once too often
        events.info("crisis_reply kind=%s tier=%s lang=%s", found.kind, found.tier, lang)
        await send(
            update,
            render.crisis_reply(services.content, services.config, lang, found.kind, found.tier),
        )
    url = f"https://t.me/{context.bot.username}?start=group"
    button = InlineKeyboardButton(services.content.text(lang, "group.open_private"), url=url)
    await send(
        update,
        render.Rendered(
            services.content.text(lang, "group.redirect"), InlineKeyboardMarkup([[button]])
        ),
    )


# Telegram delivers only commands, mentions and replies to a bot in privacy mode; answer those.
HANDLERS = [
    MessageHandler(
        filters.ChatType.GROUPS
        & (
            filters.COMMAND
            | filters.Entity("mention")
            | filters.CaptionEntity("mention")
            | filters.REPLY
        ),
        in_group,
    )
]
