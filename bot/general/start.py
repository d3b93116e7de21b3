"""/start (with optional deep-link payload) and /help."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler, filters

from bot.chat.context import BotContext
from bot.chat.handler_tools import acting, events, send, user_language
from bot.chat.rendering import Rendered, main_menu_keyboard
from bot.general import help as role_help
from bot.interest import buttons as interest_buttons
from bot.interest.buttons import Action
from bot.meetings.views import follow_button
from bot.poster.deep_links import parse_start_payload
from bot.poster.link_stats import count_poster_start
from bot.roles.lookup import Roles


async def start(update: Update, context: BotContext) -> None:
    """Welcome the person: what the groups are and the entry ticket, in two or three lines."""
    if context.args:  # a feature's own payload first (an admin's invite link, bot.roles)
        for take_payload in context.bot_data.start_payloads:
            if await take_payload(update, context, context.args[0]):
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
                        callback_data=interest_buttons.data(Action.START, m.code),
                    )
                ],
                [follow_button(services.content, lang, m)],
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
    """List what the person can do: everyone's commands, and those of any role they hold
    (read fresh; nobody else learns that role commands exist)."""
    services = context.services
    actor = await acting(update, context)
    lang = actor.lang if actor else await user_language(update, context)
    roles = actor.roles if actor else Roles()
    emergency = services.config.crisis_numbers_for("suicide")[0].number
    text = role_help.help_text(services.content, services.config, lang, roles, emergency)
    await send(update, Rendered(text, main_menu_keyboard(services.content, lang)))


HANDLERS = [
    CommandHandler("start", start, filters.ChatType.PRIVATE),
    CommandHandler("help", help_command, filters.ChatType.PRIVATE),
]
