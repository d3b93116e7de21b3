"""/interest and /mine: register, see, change and withdraw interest anonymously (all buttons).

Button data is `i:<action>[:<value>]` (bot.interest.buttons). Each press is checked against
the step the person's saved flow is at (`bot.interest.steps.decide`), so an old or forged
button cannot skip a step or set an unknown value.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.answers.answering import Reply, faq_reply
from bot.chat.context import BotContext
from bot.chat.handler_tools import refuse_press, send, show, user_language
from bot.chat.rendering import Rendered
from bot.chat.text_routes import TextRoute
from bot.chat.topic_answers import show_topic
from bot.interest import buttons
from bot.interest import rules as interest
from bot.interest import steps as interest_flow
from bot.interest import typed_answers as interest_typed
from bot.interest import views as interest_views
from bot.interest.rules import Draft
from bot.interest.steps import Move
from bot.meetings.views import follow_button

# FAQ replies worth giving to a question typed mid-way (the step follows them).
QUESTION_KINDS = ("answer", "suggest")


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
    if isinstance(found, Draft) and found.step != "entry":  # carrying on: say where they are
        note = "interest.resume"
        await send(update, interest_views.hinted_step_view(content, config, lang, found, note))
    elif isinstance(found, Draft):
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


# Longer text at the place step is neither a name nor a quick question: it only gets the
# place buttons again (and costs no FAQ matching, see privacy-review 08a).
MAX_QUESTION_CHARS = 300


def _looks_like_question(text: str) -> bool:
    return len(text) <= MAX_QUESTION_CHARS and ("?" in text or len(text.split()) > 4)


async def handle_text(
    update: Update, context: BotContext, text: str, answer: Callable[[Reply], Awaitable[None]]
) -> bool:
    """Text typed while the person is mid-way in /interest (after the crisis check).

    An answer that names one of the step's buttons is taken as that press; at the place steps
    a municipality's exact name or alias is taken, a near one offered; a question is answered
    (through `answer`) and the step shown again; anything else shows the step again with a
    hint. Returns False when they are not in the flow. The text is only compared, never stored.
    """
    services = context.services
    user = update.effective_user
    if user is None:
        return False
    key = services.user_key(user.id)
    draft = await interest_flow.load_draft(services.storage, key)
    if draft is None:
        return False
    content, config = services.content, services.config
    lang = await user_language(update, context)
    step_buttons = interest_views.step_buttons(content, config, draft)
    data = interest_typed.typed_option(step_buttons, lang, text)
    place_step = draft.step in interest_flow.TYPED_PLACE_STEPS
    if data is None and place_step:
        exact = config.places.typed(text)
        data = buttons.municipality(exact.code) if exact is not None else None
    pressed = buttons.decode(data)
    if pressed is not None:
        action, value = pressed.action, pressed.value
        move = await interest_flow.decide(services.storage, config, key, action, value)
        if move is not None and move.kind != "stale":
            await _act(update, context, key, lang, move)
            return True
    question = _looks_like_question(text) or not place_step
    reply = faq_reply(text, lang, services.faq) if question else None
    if reply is not None and reply.kind in QUESTION_KINDS:
        await answer(reply)
        await send(update, interest_views.hinted_step_view(content, config, lang, draft))
        return True
    if place_step:
        matches = config.places.near(text)
        typing = await interest_flow.start_typing(services.storage, key, draft)
        view = interest_views.typed_place_view(content, config, lang, typing, matches)
        if not matches:
            hint = interest_views.step_hint(content, lang, typing)
            view = Rendered(f"{view.text}\n\n{hint}", view.keyboard)
        await send(update, view)
        return True
    await send(update, interest_views.hinted_step_view(content, config, lang, draft))
    return True


async def show_step_again(update: Update, context: BotContext) -> None:
    """After a crisis reply to someone mid-way in /interest: the step they are at, so they
    know where they are (nothing of what they wrote is taken as an answer)."""
    services = context.services
    user = update.effective_user
    if user is None:
        return
    draft = await interest_flow.load_draft(services.storage, services.user_key(user.id))
    if draft is None:
        return
    lang = await user_language(update, context)
    content, config = services.content, services.config
    await send(update, interest_views.hinted_step_view(content, config, lang, draft))


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
    pressed = buttons.decode(query.data)
    move = None
    if pressed is not None:
        action, value = pressed.action, pressed.value
        move = await interest_flow.decide(services.storage, config, key, action, value)
    if move is None:  # forged, or about something that no longer exists: change nothing
        await refuse_press(query, content, lang)
        return
    await query.answer()
    await _act(update, context, key, lang, move)


async def _act(update: Update, context: BotContext, key: str, lang: str, move: Move) -> None:
    """Carry out a valid move (from a press or a typed answer) and show what follows."""
    services = context.services
    content, config = services.content, services.config
    if move.kind == "start":  # from a poster link's welcome
        await start_from_link(update, context, move.value)
    elif move.kind == "stale":
        await send(update, interest_views.stale_view(content, config, lang, move.draft))
    elif move.kind == "mine":
        reg = await services.storage.get_registration(key)
        await show(update, interest_views.mine_view(content, config, lang, reg))
    elif move.kind == "save":
        await _save(update, context, key, move.draft, lang)
    elif move.kind == "keep":
        expires = await interest_flow.keep(services, key)
        await show(update, interest_views.kept_view(content, config, lang, expires))
    else:
        await interest_flow.carry_out(services, key, move)
        if move.kind == "on_behalf":
            await show_topic(update, context, lang, "on_behalf")
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
    follow = follow_button(content, lang, place) if place else None
    await show(update, interest_views.saved_view(content, config, lang, follow))


HANDLERS = [
    CommandHandler("interest", interest_command, filters.ChatType.PRIVATE),
    CommandHandler("mine", mine_command, filters.ChatType.PRIVATE),
    CallbackQueryHandler(on_button, pattern=buttons.SHAPE.pattern),
]
# Typed answers and municipality names (bot.chat.text_routes), after the crisis check.
TEXT_ROUTES = (TextRoute(interest.FLOW, answer=handle_text, after_crisis=show_step_again),)
