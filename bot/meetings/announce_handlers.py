"""/announce: a regional office composes an information meeting, previews it exactly as residents
will see it, edits any field, and sends it to subscribers and coordinators in the municipalities it
chooses; `/announce list` shows upcoming meetings with anonymous counts, to change or cancel them.

Actor buttons are `an:...` signed for that person; the office role and the region are read
again on every step, and targets are limited to the office's own region's municipalities.
The flow's rules and the outbox work are in bot/meetings/announcements.py, the messages in
announce_views.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import partial
from typing import Any

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.chat.context import BotContext
from bot.chat.fallback_replies import unknown_command
from bot.chat.handler_tools import Actor, acting, send, show, signed_button, signed_press
from bot.chat.steps import FlowStore
from bot.chat.text_routes import TextRoute
from bot.meetings import announce_views as views
from bot.meetings import announcements as domain
from bot.meetings import buttons
from bot.meetings.announcements import FLOW, AnnounceDraft
from bot.outbox.progress import Watcher, report_progress, watch
from bot.services import Services


async def _office(update: Update, context: BotContext) -> Actor | None:
    """The regional office behind the update (roles read fresh), or None for anyone else."""
    actor = await acting(update, context)
    return actor if actor is not None and actor.roles.is_office else None


def _drafts(services: Services) -> FlowStore[AnnounceDraft]:
    return FlowStore(services.storage, AnnounceDraft)


def _screen(services: Services, office: Actor) -> views.Screen:
    button = partial(signed_button, services, office.user_id)
    return views.Screen(services.content, services.config, office.lang, button)


async def announce_command(update: Update, context: BotContext) -> None:
    """Start composing, or `/announce list` to manage upcoming meetings."""
    office = await _office(update, context)
    if office is None:
        await unknown_command(update, context)
        return
    services, screen = context.services, _screen(context.services, office)
    if context.args and context.args[0].lower() in ("list", "liste"):
        listed = await domain.upcoming(services, office.roles.regions)
        await send(update, views.list_view(screen, listed))
        return
    regions = sorted(office.roles.regions)
    if len(regions) == 1:
        await _begin(update, services, office, regions[0])
        return
    await send(update, views.region_choice(screen, regions))


async def _begin(update: Update, services: Services, office: Actor, region_id: str) -> None:
    await _drafts(services).save(office.key, AnnounceDraft(step="title", region=region_id))
    await send(update, views.notice(_screen(services, office), "announce.ask_title"))


async def _ask(update: Update, services: Services, office: Actor, flow: AnnounceDraft) -> None:
    """Show the question for the flow's step (text prompt, skip button or target toggles)."""
    screen, step = _screen(services, office), flow.step
    if step in domain.TEXT_STEPS:
        await send(update, views.question(screen, step))
    elif step == "targets":
        region = domain.flow_region(services.config, flow)
        assert region is not None
        await show(update, views.targets_view(screen, region, set(flow.targets or ())))
    else:
        await _preview(update, services, office, flow)


async def _preview(update: Update, services: Services, office: Actor, flow: AnnounceDraft) -> None:
    meeting = domain.draft_meeting(office.key, flow)
    for message in views.preview(_screen(services, office), meeting):
        await send(update, message)


async def handle_text(update: Update, context: BotContext, text: str) -> bool:
    """A field typed by an office at a text step; False when not composing (a normal message)."""
    user = update.effective_user
    if user is None:
        return False
    services = context.services
    drafts = _drafts(services)
    flow = await drafts.load(services.user_key(user.id))
    if flow is None or flow.step not in domain.TEXT_STEPS:
        return False
    office = await _office(update, context)
    if office is None or flow.region not in office.roles.regions:
        await drafts.clear(services.user_key(user.id))
        return False
    read = domain.read_field(flow.step, text.strip(), services.now(), services.config.timezone)
    if read is None:  # only spaces: ask the same question again
        await _ask(update, services, office, flow)
    elif isinstance(read, domain.FieldProblem):
        await send(update, views.notice(_screen(services, office), read.key, **read.values))
    else:
        await _advance(update, services, office, replace(flow, **read))
    return True


async def _advance(update: Update, services: Services, office: Actor, flow: AnnounceDraft) -> None:
    """Next unanswered step, or back to the preview when a field was being changed."""
    flow = replace(flow, step=domain.next_step(flow))
    await _drafts(services).save(office.key, flow)
    await _ask(update, services, office, flow)


async def on_button(update: Update, context: BotContext) -> None:
    """Every signed `an:` button: verify the signature and the role, then act."""
    pressed = await signed_press(update, context, lambda roles: roles.is_office)
    if pressed is None:
        return
    office, data = pressed
    services, screen = context.services, _screen(context.services, office)
    press = buttons.decode_announce(data)
    if press is None:  # signed for this office, so ours: never; refused all the same
        await show(update, views.notice(screen, "announce.stale_button"))
        return
    action, value = press.action, press.value
    if action == "r" and value in office.roles.regions:
        await _begin(update, services, office, value)
        return
    if action in ("ch", "cx", "cy", "cn"):
        await _manage(update, services, office, action, value)
        return
    drafts = _drafts(services)
    flow = await drafts.load(office.key)
    if flow is None or flow.region not in office.roles.regions:
        await show(update, views.notice(screen, "announce.stale_button"))
        return
    step = flow.step
    if action == "skip" and step in domain.SKIPPABLE and value == step:
        skipped: dict[str, Any] = {step: None}  # the link or the description
        await _advance(update, services, office, replace(flow, **skipped))
    elif action in ("t", "tall", "tdone") and step == "targets":
        await _toggle_target(update, services, office, flow, action, value)
    elif action == "e" and value in domain.EDITABLE and step == "preview":
        flow = replace(flow, step=value, back=True)
        await drafts.save(office.key, flow)
        await _ask(update, services, office, flow)
    elif action == "send" and step == "preview":
        await _send(update, services, office, flow)
    elif action == "x":
        await drafts.clear(office.key)
        await show(update, views.notice(screen, "announce.cancelled"))
    else:  # replayed or out of step
        await show(update, views.notice(screen, "announce.stale_button"))


async def _toggle_target(
    update: Update,
    services: Services,
    office: Actor,
    flow: AnnounceDraft,
    action: str,
    code: str,
) -> None:
    targets = domain.toggled_targets(services.config, flow, action, code)
    if targets is None:  # another region's municipality: never
        await show(update, views.notice(_screen(services, office), "announce.stale_button"))
    elif action == "tdone" and not targets:
        await send(update, views.notice(_screen(services, office), "announce.need_target"))
    elif action == "tdone":
        await _advance(update, services, office, replace(flow, targets=tuple(targets)))
    else:
        flow = replace(flow, targets=tuple(targets))
        await _drafts(services).save(office.key, flow)
        await _ask(update, services, office, flow)  # the toggles again, ticked as they are now


async def _send(update: Update, services: Services, office: Actor, flow: AnnounceDraft) -> None:
    """Save the meeting (or its change) and fan it out through the outbox."""
    chat = update.effective_chat
    assert chat is not None
    screen, draft = _screen(services, office), domain.draft_meeting(office.key, flow)
    if not domain.targets_in_region(services.config, flow, draft):
        await show(update, views.notice(screen, "announce.stale_button"))
        return
    await _drafts(services).clear(office.key)  # claimed first: a second press finds no draft
    if draft.id:  # a change to an announced meeting: tell those who signed up
        told = await domain.change(services, draft, office.roles.regions)
        if told is None:  # cancelled (or gone) since the change began: say so, not silence
            await show(update, views.notice(screen, "announce.stale_button"))
        else:
            await show(update, views.notice(screen, "announce.change_done"))
        return
    # No count of recipients, and the same answer when there are none: a live count would let
    # an office subtract two sets of places (docs/THREAT_MODEL.md); the digest has the figures.
    meeting, added = await domain.create(services, draft, chat.id)
    await show(update, views.notice(screen, "announce.queued"))
    progress = await chat.send_message(views.progress_start(screen))
    watcher = Watcher(chat.id, progress.message_id, office.lang)
    watch(services, f"meeting:{meeting.id}", watcher)
    if not added:  # nobody to send to: "done" all the same, as after a send (no count shown)
        await report_progress(chat.get_bot(), services, f"meeting:{meeting.id}", {"pending": 0})
        return
    services.outbox_changed()


async def _manage(
    update: Update, services: Services, office: Actor, action: str, value: str
) -> None:
    """Change (reopen the preview with the meeting's fields) or cancel an announced meeting."""
    screen = _screen(services, office)
    # Only ASCII digits that fit a database id: "²" passes isdigit() but not int().
    is_id = re.fullmatch(r"[0-9]{1,12}", value) is not None
    meeting = await services.storage.get_meeting(int(value)) if is_id else None
    if action == "cn":
        await show(update, views.notice(screen, "announce.cancel_kept"))
    elif not domain.is_open(meeting, office.roles.regions):
        await show(update, views.notice(screen, "announce.stale_button"))
    elif action == "ch":
        flow = domain.change_flow(meeting)
        await _drafts(services).save(office.key, flow)
        await _preview(update, services, office, flow)
    elif action == "cx":
        await send(update, views.cancel_confirm(screen, meeting))
    elif action == "cy":
        await domain.cancel(services, meeting)
        await show(update, views.notice(screen, "announce.cancel_done"))


HANDLERS = [
    CommandHandler("announce", announce_command, filters.ChatType.PRIVATE),
    CallbackQueryHandler(on_button, pattern=buttons.ANNOUNCE.pattern),
]
# The fields an office types (bot.chat.text_routes), kept even after crisis numbers were shown.
TEXT_ROUTES = (TextRoute(FLOW, compose=handle_text),)
