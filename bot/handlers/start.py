"""/start (with optional deep-link payload) and /help."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler, filters

from bot.deeplink import parse_start_payload
from bot.handlers import admin, meetings
from bot.handlers.common import events, send, user_language
from bot.link_stats import count_poster_start
from bot.render import Rendered, main_menu_keyboard
from bot.services import BotContext


async def start(update: Update, context: BotContext) -> None:
    """Welcome the person: what the groups are and the entry ticket, in two or three lines."""
    if context.args and await admin.accept_invite_payload(update, context, context.args[0]):
        return
    services = context.services
    payload = parse_start_payload(context.args[0] if context.args else "", services.config)
    lang = payload.lang if payload and payload.lang else await user_language(update, context)
    text = services.content.text(lang, "start.welcome")
    if payload and payload.municipality:
        m = payload.municipality
        text += "\n\n" + services.content.text(lang, "start.from_place", municipality=m.name)
        # Link statistics: a tally per place and week, once per person, never who pressed.
        if update.effective_user is not None:
            await count_poster_start(services, update.effective_user.id, m)
    events.info(
        "start deeplink=%s", payload.municipality.code if payload and payload.municipality else "-"
    )
    keyboard = main_menu_keyboard(services.content, lang)
    if payload and payload.municipality:
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        services.content.text(lang, "start.interest_here", municipality=m.name),
                        callback_data=f"i:start:{m.code}",
                    )
                ],
                [meetings.follow_button(services.content, lang, m)],
                *keyboard.inline_keyboard,
            ]
        )
        user = update.effective_user
        key = services.user_key(user.id) if user else None
        if payload.lang and key and await services.storage.get_language(key) is None:
            # An English poster was a choice of language; keep it for the rest of the chat.
            await services.storage.set_language(key, payload.lang)
    await send(update, Rendered(text, keyboard))


async def help_command(update: Update, context: BotContext) -> None:
    """List what the bot can do."""
    lang = await user_language(update, context)
    content = context.services.content
    emergency = context.services.config.crisis_numbers_for("suicide")[0].number
    text = content.text(lang, "help.text", emergency=emergency)
    await send(update, Rendered(text, main_menu_keyboard(content, lang)))


HANDLERS = [
    CommandHandler("start", start, filters.ChatType.PRIVATE),
    CommandHandler("help", help_command, filters.ChatType.PRIVATE),
]
