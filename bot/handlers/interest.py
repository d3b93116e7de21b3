"""/interest and /mine: register, see, change and withdraw interest anonymously (all buttons).

Button data is `i:<action>[:<value>]`. Each press is checked against the step the person's
saved flow is at (`bot.interest_flow.decide`), so an old or forged button cannot skip a step or
set an unknown value.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot import interest, interest_flow, interest_views
from bot.handlers import faq_menu, meetings
from bot.handlers.common import refuse_press, send, show, user_language
from bot.interest import Draft
from bot.services import BotContext


async def _open(update: Update, context: BotContext, suggested: str | None) -> None:
    """What is registered (changeable from there); else the flow where they left it, or anew."""
    services = context.services
    user = update.effective_user
    if user is None:
        return
    content, config = services.content, services.config
    lang = await user_language(update, context)
    key = services.user_key(user.id)
    found = await interest_flow.open_flow(services.storage, key, suggested)
    if isinstance(found, Draft):
        await send(update, interest_views.step_view(content, config, lang, found))
    else:
        await send(update, interest_views.mine_view(content, config, lang, found))


async def interest_command(update: Update, context: BotContext) -> None:
    """Start the flow, carry on where they left it, or show what is registered."""
    await _open(update, context, suggested=None)


async def start_from_link(update: Update, context: BotContext, code: str) -> None:
    """ "Register interest" on the welcome of a poster link: the flow, with that place offered."""
    if context.services.config.municipality_by_code(code) is not None:
        await _open(update, context, suggested=code)


async def mine_command(update: Update, context: BotContext) -> None:
    """Show the registration with buttons to change or withdraw it."""
    services = context.services
    user = update.effective_user
    if user is None:
        return
    lang = await user_language(update, context)
    reg = await services.storage.get_registration(services.user_key(user.id))
    await send(update, interest_views.mine_view(services.content, services.config, lang, reg))


async def handle_typed_place(update: Update, context: BotContext, text: str) -> bool:
    """A typed municipality while the flow asks for one: offer the closest matches.

    Returns False when the person is not at that step, so the text is treated as a question.
    The typed text itself is only compared, never stored.
    """
    services = context.services
    user = update.effective_user
    if user is None:
        return False
    key = services.user_key(user.id)
    draft = await interest_flow.load_draft(services.storage, key)
    if draft is None or draft.step not in interest_flow.TYPED_PLACE_STEPS:
        return False
    lang = await user_language(update, context)
    matches = interest.match_municipalities(services.config, text)
    typing = await interest_flow.start_typing(services.storage, key, draft)
    content, config = services.content, services.config
    await send(update, interest_views.typed_place_view(content, config, lang, typing, matches))
    return True


async def on_button(update: Update, context: BotContext) -> None:
    """Every `i:` button: validate against the saved step, apply, show the next step."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None or query.data is None:
        return
    services = context.services
    content, config = services.content, services.config
    lang = await user_language(update, context)
    key = services.user_key(user.id)
    _, _, rest = query.data.partition(":")
    action, _, value = rest.partition(":")
    move = await interest_flow.decide(services.storage, config, key, action, value)
    if move is None:  # forged, or about something that no longer exists: change nothing
        await refuse_press(query, content, lang)
        return
    await query.answer()
    if move.kind == "start":  # from a poster link's welcome
        await start_from_link(update, context, move.value)
    elif move.kind == "stale":
        await send(update, interest_views.stale_view(content, config, lang, move.draft))
    elif move.kind == "save":
        await _save(update, context, key, move.draft, lang)
    elif move.kind == "keep":
        expires = await interest_flow.keep(services, key)
        await show(update, interest_views.kept_view(content, config, lang, expires))
    else:
        await interest_flow.carry_out(services, key, move)
        if move.kind == "on_behalf":
            await faq_menu.show_topic(update, context, lang, "on_behalf")
        else:
            await show(update, interest_views.move_view(content, config, lang, move))


async def _save(update: Update, context: BotContext, key: str, draft: Draft, lang: str) -> None:
    """Register the finished draft and confirm it (a change shows the registration again)."""
    services = context.services
    chat = update.effective_chat
    if chat is None:
        return
    content, config = services.content, services.config
    reg = await interest_flow.register(services, key, chat.id, draft, lang)
    if draft.edit:
        await show(update, interest_views.updated_view(content, config, lang, reg))
        return
    # Offer to follow information meetings there (issue: meetings are how people start).
    place = config.municipality_named(reg.municipality)
    follow = meetings.follow_button(content, lang, place) if place else None
    await show(update, interest_views.saved_view(content, config, lang, follow))


HANDLERS = [
    CommandHandler("interest", interest_command, filters.ChatType.PRIVATE),
    CommandHandler("mine", mine_command, filters.ChatType.PRIVATE),
    CallbackQueryHandler(on_button, pattern=r"^i:"),
]
