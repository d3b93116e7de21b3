"""/interest and /mine: register, see, change and withdraw interest anonymously (all buttons).

Button data is `i:<action>[:<value>]`. Each press is checked against the step the person's
saved flow is at, so an old or forged button cannot skip a step or set an unknown value.
"""

from __future__ import annotations

from dataclasses import replace

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot import interest, interest_views, render
from bot.clock import week_index
from bot.handlers import faq_menu, meetings
from bot.handlers.common import events, send, show, user_language
from bot.interest import FLOW, Draft
from bot.services import BotContext, Services

# Which button actions each step accepts.
ALLOWED = {
    "entry": {"e"},
    "limits": {"l"},
    "place": {"r", "t", "u", "m"},
    "typing": {"r", "t", "u", "m"},
    "region": {"m", "ur", "r", "t", "u"},
    "unlisted": {"ur"},
    "kind": {"k"},
    "time": {"h"},
    "contact": {"c"},
    "summary": {"s", "x"},
}
ALLOWED_ANYWHERE = {a for actions in ALLOWED.values() for a in actions}
LIMIT_VALUES = ("ok", "no")
SUMMARY_VALUES = ("ok", "edit", "cancel")
UNSURE_TOPICS = ("entry_ticket", "who_for", "what_problems", "time_to_decide")


async def _draft(services: Services, key: str) -> Draft | None:
    state = await services.storage.get_flow(key)
    return Draft.from_dict(state[1]) if state and state[0] == FLOW else None


async def _open(update: Update, context: BotContext, suggested: str | None) -> None:
    """What is registered (changeable from there); else the flow where they left it, or anew."""
    services = context.services
    user = update.effective_user
    if user is None:
        return
    content, config = services.content, services.config
    lang = await user_language(update, context)
    key = services.user_key(user.id)
    reg = await services.storage.get_registration(key)
    if reg is not None:
        await send(update, interest_views.mine_view(content, config, lang, reg))
        return
    draft = await _draft(services, key)
    if draft is None or draft.step == "entry" or suggested is not None:
        draft = Draft(suggested=suggested)
        await services.storage.set_flow(key, FLOW, draft.to_dict())
    await send(update, interest_views.step_view(content, config, lang, draft))


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
    draft = await _draft(services, key)
    if draft is None or draft.step not in ("place", "typing", "region"):
        return False
    lang = await user_language(update, context)
    matches = interest.match_municipalities(services.config, text)
    await services.storage.set_flow(key, FLOW, replace(draft, step="typing").to_dict())
    view = interest_views.matches_view(services.content, lang, matches)
    if not matches:
        retry = replace(draft, step="typing")
        view = render.Rendered(
            view.text,
            interest_views.step_view(services.content, services.config, lang, retry).keyboard,
        )
    await send(update, view)
    return True


def _apply(services: Services, draft: Draft, action: str, value: str) -> Draft | None:
    """The draft after a valid button press, or None if the value is not a real choice."""
    config = services.config
    if action == "r" and config.region(value):
        return replace(draft, step="region", region_id=value)
    if action == "t":
        return replace(draft, step="typing")
    if action == "u":
        return replace(draft, step="unlisted")
    if action == "m":
        municipality = config.municipality_by_code(value)
        if municipality is None:
            return None
        chosen = interest.choose_place(draft, municipality)
        return replace(chosen, step=chosen.next_step())
    if action == "ur" and config.region(value):
        chosen = interest.choose_unlisted(draft, value)
        return replace(chosen, step=chosen.next_step())
    if action == "k" and value in interest.kinds(config):
        chosen = replace(draft, kind=value)
        return replace(chosen, step=chosen.next_step())
    if action == "h" and value in interest.TIMES:
        chosen = replace(draft, time=value)
        return replace(chosen, step=chosen.next_step())
    if action == "c" and value in ("yes", "no"):
        chosen = replace(draft, contact=value == "yes")
        return replace(chosen, step=chosen.next_step())
    if action == "x" and value in interest.FIELDS:
        return _reopen(draft, value)
    return None


def _reopen(draft: Draft, field: str) -> Draft:
    """Go back to one question; the others keep their answers."""
    if field == "place":
        return replace(draft, step="place")
    cleared = {"kind": {"kind": None}, "time": {"time": None}, "contact": {"contact": None}}
    return replace(draft, step=field, **cleared[field])  # type: ignore[arg-type]


async def _save(update: Update, context: BotContext, draft: Draft, lang: str) -> None:
    services = context.services
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None:
        return
    key = services.user_key(user.id)
    previous = await services.storage.get_registration(key)
    reg = interest.to_registration(draft, key, services.now(), services.config, previous)
    await services.storage.ensure_resident(key, services.cipher.encrypt(chat.id, key))
    if await services.storage.get_language(key) is None:
        # Reminders and invitations must reach them in the language they registered in.
        await services.storage.set_language(key, lang)
    week = week_index(services.now(), services.config.timezone)
    await services.storage.save_registration(reg, week)
    await services.storage.clear_flow(key)
    events.info("interest_saved edit=%s", draft.edit)
    content = services.content
    if draft.edit:
        view = interest_views.mine_view(content, services.config, lang, reg)
        await show(
            update,
            render.Rendered(f"{content.text(lang, 'mine.updated')}\n\n{view.text}", view.keyboard),
        )
    else:
        text = content.text(lang, "interest.saved", retention_days=services.config.retention_days)
        # Offer to follow information meetings there (issue: meetings are how people start).
        place = services.config.municipality_named(reg.municipality)
        keyboard = (
            InlineKeyboardMarkup([[meetings.follow_button(content, lang, place)]])
            if place
            else None
        )
        await show(update, render.Rendered(text, keyboard))


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
    storage = services.storage
    week = week_index(services.now(), config.timezone)

    async def refuse() -> None:
        """Forged, or about something that no longer exists: say so, change nothing."""
        await query.answer(content.text(lang, "errors.stale_button"), show_alert=True)

    if action == "start":  # from a poster link's welcome
        if services.config.municipality_by_code(value) is None:
            await refuse()
            return
        await query.answer()
        await start_from_link(update, context, value)
        return
    if action in ("w", "keep", "del"):  # need a registration: withdraw, or answer the reminder
        if await storage.get_registration(key) is None or value:
            await refuse()
            return
        await query.answer()
        if action == "w":
            await storage.remove_registration(key, week, "withdrawn")
            await storage.clear_flow(key)
            events.info("interest_withdrawn")
            await show(update, render.Rendered(content.text(lang, "mine.withdrawn")))
        else:
            await _retention_answer(update, context, lang, key, keep=action == "keep")
        return

    draft = await _draft(services, key)
    if draft is None and action == "x":  # change one answer of a saved registration
        reg = await storage.get_registration(key)
        if reg is not None and value in interest.FIELDS:
            await query.answer()
            draft = _reopen(interest.from_registration(reg, value), value)
            await storage.set_flow(key, FLOW, draft.to_dict())
            await show(update, interest_views.step_view(content, config, lang, draft))
            return
    if draft is None or action not in ALLOWED_ANYWHERE:
        await refuse()
        return
    if action not in ALLOWED.get(draft.step, set()):
        await query.answer()
        stale = interest_views.step_view(content, config, lang, draft)
        text = f"{content.text(lang, 'interest.stale')}\n\n{stale.text}"
        await send(update, render.Rendered(text, stale.keyboard))
        return

    if action == "e" and value in ("yes", "other", "unsure"):
        await query.answer()
        await _entry(update, context, lang, key, draft, value)
        return
    if action in ("l", "s") and value not in (*LIMIT_VALUES, *SUMMARY_VALUES):
        await refuse()
        return
    if action == "l":
        await query.answer()
        if value == "ok":
            draft = replace(draft, step="place")
        else:
            await storage.clear_flow(key)
            text = content.text(lang, "interest.limits_refused", min_age=config.min_age)
            await show(update, render.Rendered(text))
            return
    elif action == "s":
        await query.answer()
        if value == "ok" and draft.complete:
            await _save(update, context, draft, lang)
        elif value == "edit":
            summary = interest_views.summary_view(content, config, lang, draft)
            await show(
                update, render.Rendered(summary.text, interest_views.change_menu(content, lang))
            )
        else:
            await storage.clear_flow(key)
            await show(update, render.Rendered(content.text(lang, "interest.cancelled")))
        return
    else:
        applied = _apply(services, draft, action, value)
        if applied is None:
            await refuse()
            return
        await query.answer()
        draft = applied
        if draft.edit and draft.step == "summary":
            await _save(update, context, draft, lang)
            return
    await storage.set_flow(key, FLOW, draft.to_dict())
    await show(update, interest_views.step_view(content, config, lang, draft))


async def _entry(
    update: Update, context: BotContext, lang: str, key: str, draft: Draft, value: str
) -> None:
    """The entry ticket: yes goes on; 'for someone else' and 'not sure' get kind answers."""
    services = context.services
    if value == "yes":
        draft = replace(draft, step="limits")
        await services.storage.set_flow(key, FLOW, draft.to_dict())
        await show(
            update, interest_views.step_view(services.content, services.config, lang, draft)
        )
        return
    await services.storage.clear_flow(key)
    if value == "other":
        await faq_menu.show_topic(update, context, lang, "on_behalf")
        return
    content = services.content
    buttons = [render.topic_button(content, lang, tid) for tid in UNSURE_TOPICS]
    keyboard = render.InlineKeyboardMarkup([[b] for b in buttons])
    await show(update, render.Rendered(content.text(lang, "interest.unsure"), keyboard))


async def _retention_answer(
    update: Update, context: BotContext, lang: str, key: str, keep: bool
) -> None:
    services = context.services
    content, config = services.content, services.config
    storage = services.storage
    if keep:
        expires = await storage.extend_registration(
            key, int(services.now()) + config.retention_days * 86400
        )
        if expires is None:
            await show(update, render.Rendered(content.text(lang, "mine.none")))
            return
        when = interest_views.expiry_date(expires, config)
        await show(update, render.Rendered(content.text(lang, "retention.kept", expires=when)))
        return
    week = week_index(services.now(), config.timezone)
    await storage.remove_registration(key, week, "withdrawn")
    await show(update, render.Rendered(content.text(lang, "retention.deleted")))


HANDLERS = [
    CommandHandler("interest", interest_command, filters.ChatType.PRIVATE),
    CommandHandler("mine", mine_command, filters.ChatType.PRIVATE),
    CallbackQueryHandler(on_button, pattern=r"^i:"),
]
