"""/announce: a regional office composes an information meeting, previews it exactly as residents
will see it, edits any field, and sends it to subscribers and coordinators in the municipalities it
chooses; `/announce list` shows upcoming meetings with anonymous counts, to change or cancel them.

Actor buttons are `an:...` signed for that person; the office role and the region are read
again on every step, and targets are limited to the office's own region's municipalities.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot import meeting_views, render
from bot.config import Region
from bot.handlers import misc
from bot.handlers.common import (
    Actor,
    acting,
    events,
    send,
    show,
    signed_button,
    signed_press,
)
from bot.progress import Watcher, watch
from bot.services import BotContext, Services
from bot.storage import Meeting
from bot.when import format_when, parse_when

FLOW = "announce"
TEXT_STEPS = ("title", "when", "place", "link", "description")
MAX_CHARS = {"title": 120, "place": 200, "link": 300, "description": 1200, "when": 100}
EDITABLE = ("title", "when", "place", "link", "description", "targets")


async def _office(update: Update, context: BotContext) -> Actor | None:
    """The regional office behind the update (roles read fresh), or None for anyone else."""
    actor = await acting(update, context)
    return actor if actor is not None and actor.roles.is_office else None


def _button(services: Services, office: Actor, text: str, data: str) -> list[InlineKeyboardButton]:
    return [signed_button(services, office.user_id, text, data)]


async def announce_command(update: Update, context: BotContext) -> None:
    """Start composing, or `/announce list` to manage upcoming meetings."""
    office = await _office(update, context)
    if office is None:
        await misc.unknown_command(update, context)
        return
    services = context.services
    if context.args and context.args[0].lower() in ("list", "liste"):
        await _list(update, services, office)
        return
    regions = sorted(office.roles.regions)
    if len(regions) == 1:
        await _begin(update, services, office, regions[0])
        return
    rows = []
    for region_id in regions:
        region = services.config.region(region_id)
        if region is not None:
            rows.append(_button(services, office, region.name, f"an:r:{region.id}"))
    text = services.content.text(office.lang, "announce.choose_region")
    await send(update, render.Rendered(text, InlineKeyboardMarkup(rows)))


async def _begin(update: Update, services: Services, office: Actor, region_id: str) -> None:
    await services.storage.set_flow(office.key, FLOW, {"step": "title", "region": region_id})
    await send(update, render.Rendered(services.content.text(office.lang, "announce.ask_title")))


def _draft_meeting(office: Actor, flow: dict[str, Any]) -> Meeting:
    return Meeting(
        id=int(flow.get("meeting_id") or 0),
        uid=str(flow.get("uid") or ""),
        office_key=office.key,
        office_chat=b"",
        region_id=str(flow["region"]),
        title=str(flow.get("title", "")),
        starts_at=int(flow.get("starts_at", 0)),
        place=str(flow.get("place", "")),
        link=flow.get("link") or None,
        description=flow.get("description") or None,
        municipalities=tuple(flow.get("targets", ())),
    )


async def _ask(update: Update, services: Services, office: Actor, flow: dict[str, Any]) -> None:
    """Show the question for the flow's step (text prompt, skip button or target toggles)."""
    content, lang, step = services.content, office.lang, flow["step"]
    if step in ("link", "description"):
        keyboard = InlineKeyboardMarkup(
            [_button(services, office, content.text(lang, "announce.skip"), f"an:skip:{step}")]
        )
        await send(update, render.Rendered(content.text(lang, f"announce.ask_{step}"), keyboard))
    elif step in TEXT_STEPS:
        await send(update, render.Rendered(content.text(lang, f"announce.ask_{step}")))
    elif step == "targets":
        await show(update, _targets_view(services, office, flow))
    else:
        await _preview(update, services, office, flow)


def _region(services: Services, flow: dict[str, Any]) -> Region | None:
    return services.config.region(str(flow.get("region", "")))


def _targets_view(services: Services, office: Actor, flow: dict[str, Any]) -> render.Rendered:
    content, lang = services.content, office.lang
    region = _region(services, flow)
    assert region is not None
    chosen = set(flow.get("targets", ()))
    rows = [
        _button(services, office, ("✅ " if m.name in chosen else "▫️ ") + m.name, f"an:t:{m.code}")
        for m in region.municipalities
    ]
    rows.append(_button(services, office, content.text(lang, "announce.all"), "an:tall"))
    rows.append(_button(services, office, content.text(lang, "announce.done"), "an:tdone"))
    text = content.text(lang, "announce.ask_targets", region=region.name)
    return render.Rendered(text, InlineKeyboardMarkup(rows))


async def _recipients(
    services: Services, region_id: str, targets: tuple[str, ...]
) -> list[tuple[str, bytes]]:
    """Subscribers of the targeted places, plus the coordinators there (each once)."""
    storage, config, cipher = services.storage, services.config, services.cipher
    found = dict(await storage.subscribers_for(region_id, targets))
    for c in config.coordinators:
        if set(c.municipalities) & set(targets):
            key = services.user_key(c.user_id)
            found.setdefault(key, cipher.encrypt(c.user_id, key))
    for grant in await storage.all_roles():
        if grant.role == "coordinator" and grant.scope in targets:
            found.setdefault(grant.user_key, grant.chat_enc)
    return list(found.items())


async def _preview(
    update: Update, services: Services, office: Actor, flow: dict[str, Any]
) -> None:
    content, lang = services.content, office.lang
    meeting = _draft_meeting(office, flow)
    count = len(await _recipients(services, meeting.region_id, meeting.municipalities))
    await send(
        update,
        render.Rendered(
            content.text(
                lang,
                "announce.preview_intro",
                count=render.small_count(services.content, services.config, lang, count),
            )
        ),
    )
    payload = meeting_views.announcement_payload(content, services.config, lang, meeting)
    preview_buttons = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b["text"], callback_data="menu") for b in row]
            for row in payload["buttons"]
        ]
    )
    await send(update, render.Rendered(payload["text"], preview_buttons))
    rows = [_button(services, office, content.text(lang, "announce.send"), "an:send")]
    rows += [
        _button(services, office, content.text(lang, f"announce.edit_{f}"), f"an:e:{f}")
        for f in EDITABLE
    ]
    rows.append(_button(services, office, content.text(lang, "announce.cancel"), "an:x"))
    await send(
        update, render.Rendered(content.text(lang, "announce.confirm"), InlineKeyboardMarkup(rows))
    )


async def handle_text(update: Update, context: BotContext, text: str) -> bool:
    """A field typed by an office at a text step; False when not composing (a normal message)."""
    user = update.effective_user
    if user is None:
        return False
    services = context.services
    state = await services.storage.get_flow(services.user_key(user.id))
    if state is None or state[0] != FLOW or state[1].get("step") not in TEXT_STEPS:
        return False
    office = await _office(update, context)
    flow = state[1]
    if office is None or flow.get("region") not in office.roles.regions:
        await services.storage.clear_flow(services.user_key(user.id))
        return False
    content, lang, step = services.content, office.lang, flow["step"]
    value = text.strip()
    if not value:  # only spaces: ask the same question again
        await _ask(update, services, office, flow)
        return True
    if len(value) > MAX_CHARS[step]:
        await send(
            update,
            render.Rendered(content.text(lang, "announce.too_long", max_chars=MAX_CHARS[step])),
        )
        return True
    if step == "when":
        result = parse_when(value, services.now(), services.config.timezone)
        if not isinstance(result, datetime):
            await send(update, render.Rendered(content.text(lang, f"when.error.{result}")))
            return True
        flow["starts_at"] = int(result.timestamp())
    elif step == "link":
        if not value.startswith("https://") or " " in value:
            await send(update, render.Rendered(content.text(lang, "announce.bad_link")))
            return True
        flow["link"] = value
    else:
        flow[step] = value
    await _advance(update, services, office, flow)
    return True


async def _advance(
    update: Update, services: Services, office: Actor, flow: dict[str, Any]
) -> None:
    """Next unanswered step, or back to the preview when a field was being changed."""
    order = ("title", "when", "place", "link", "description", "targets", "preview")
    if flow.get("back"):
        flow["step"] = "preview"
    else:
        flow["step"] = order[order.index(flow["step"]) + 1]
    await services.storage.set_flow(office.key, FLOW, flow)
    await _ask(update, services, office, flow)


async def on_button(update: Update, context: BotContext) -> None:
    """Every signed `an:` button: verify the signature and the role, then act."""
    pressed = await signed_press(update, context, lambda roles: roles.is_office)
    if pressed is None:
        return
    office, data = pressed
    services = context.services
    lang = office.lang
    parts = data.split(":")
    action, value = parts[1], (parts[2] if len(parts) > 2 else "")
    storage = services.storage
    if action == "r" and value in office.roles.regions:
        await _begin(update, services, office, value)
        return
    if action in ("ch", "cx", "cy", "cn"):
        await _manage(update, services, office, action, value)
        return
    state = await storage.get_flow(office.key)
    flow = dict(state[1]) if state and state[0] == FLOW else None
    if flow is None or flow.get("region") not in office.roles.regions:
        await show(update, render.Rendered(services.content.text(lang, "errors.stale_button")))
        return
    step = flow.get("step")
    if action == "skip" and step in ("link", "description") and value == step:
        flow[step] = None
        await _advance(update, services, office, flow)
    elif action in ("t", "tall", "tdone") and step == "targets":
        await _toggle_target(update, services, office, flow, action, value)
    elif action == "e" and value in EDITABLE and step == "preview":
        flow.update(step=value, back=True)
        await storage.set_flow(office.key, FLOW, flow)
        await _ask(update, services, office, flow)
    elif action == "send" and step == "preview":
        await _send(update, services, office, flow)
    elif action == "x":
        await storage.clear_flow(office.key)
        await show(update, render.Rendered(services.content.text(lang, "announce.cancelled")))
    else:  # replayed or out of step
        await show(update, render.Rendered(services.content.text(lang, "errors.stale_button")))


async def _toggle_target(
    update: Update,
    services: Services,
    office: Actor,
    flow: dict[str, Any],
    action: str,
    value: str,
) -> None:
    region = _region(services, flow)
    assert region is not None
    names = [m.name for m in region.municipalities]
    chosen = [n for n in flow.get("targets", []) if n in names]
    if action == "t":
        m = services.config.municipality_by_code(value)
        if m is None or m.name not in names:  # another region's municipality: never
            await show(
                update, render.Rendered(services.content.text(office.lang, "errors.stale_button"))
            )
            return
        chosen = [n for n in chosen if n != m.name] if m.name in chosen else [*chosen, m.name]
    elif action == "tall":
        chosen = names
    elif not chosen:
        await send(
            update, render.Rendered(services.content.text(office.lang, "announce.need_target"))
        )
        return
    flow["targets"] = [n for n in names if n in chosen]
    if action == "tdone":
        await _advance(update, services, office, flow)
        return
    await services.storage.set_flow(office.key, FLOW, flow)
    await show(update, _targets_view(services, office, flow))


async def _send(update: Update, services: Services, office: Actor, flow: dict[str, Any]) -> None:
    """Save the meeting (or its change) and fan it out through the outbox."""
    chat = update.effective_chat
    assert chat is not None
    storage, content, lang = services.storage, services.content, office.lang
    draft = _draft_meeting(office, flow)
    if not set(draft.municipalities) <= {
        m.name for m in (_region(services, flow) or Region("", "", "", ())).municipalities
    }:
        await show(update, render.Rendered(content.text(lang, "errors.stale_button")))
        return
    await storage.clear_flow(office.key)
    if draft.id:  # a change to an announced meeting: tell those who signed up
        old = await storage.get_meeting(draft.id)
        if old is None or old.region_id not in office.roles.regions or old.status != "active":
            return
        meeting = replace(
            old,
            title=draft.title,
            starts_at=draft.starts_at,
            place=draft.place,
            link=draft.link,
            description=draft.description,
            municipalities=draft.municipalities,
        )
        version = await storage.update_meeting(meeting)
        meeting = replace(meeting, version=version)
        # Places added by the change get the announcement; everyone who had it keeps theirs.
        await _announce(services, meeting)
        count = await _notify_marked(
            services, meeting, f"meeting:{meeting.id}:v{version}", "change"
        )
        await show(
            update,
            render.Rendered(
                content.text(
                    lang,
                    "announce.change_done",
                    count=render.small_count(services.content, services.config, lang, count),
                )
            ),
        )
        return
    meeting = replace(
        draft, uid=uuid.uuid4().hex, office_chat=services.cipher.encrypt(chat.id, office.key)
    )
    meeting = replace(meeting, id=await storage.create_meeting(meeting), version=1)
    campaign = f"meeting:{meeting.id}"
    added = await _announce(services, meeting)
    events.info("meeting_announced recipients=%d", added)
    if not added:
        await show(update, render.Rendered(content.text(lang, "announce.nobody")))
        return
    shown = render.small_count(content, services.config, lang, added)
    await show(update, render.Rendered(content.text(lang, "announce.queued", count=shown)))
    progress = await chat.send_message(
        content.text(lang, "announce.progress", sent=0, total=shown)
    )
    watch(services, campaign, Watcher(chat.id, progress.message_id, lang, added))
    services.outbox_changed()


async def _announce(services: Services, meeting: Meeting) -> int:
    """Put the announcement in the outbox for everyone in its places who has not had it."""
    storage, content, config = services.storage, services.content, services.config
    rows = []
    for key, chat_enc in await _recipients(services, meeting.region_id, meeting.municipalities):
        lang = await storage.get_language(key) or config.default_language
        rows.append(
            (key, chat_enc, meeting_views.announcement_payload(content, config, lang, meeting))
        )
    added = await storage.enqueue(f"meeting:{meeting.id}", rows)
    services.outbox_changed()
    return added


async def _notify_marked(services: Services, meeting: Meeting, campaign: str, kind: str) -> int:
    """Tell everyone who pressed "I'm coming" or "Remind me" about a change or cancellation."""
    storage, content, config = services.storage, services.content, services.config
    rows = []
    for key, chat_enc in await storage.marked_people(meeting.id):
        lang = await storage.get_language(key) or config.default_language
        build = meeting_views.change_payload if kind == "change" else meeting_views.cancel_payload
        rows.append((key, chat_enc, build(content, config, lang, meeting)))
    added = await storage.enqueue(campaign, rows)
    services.outbox_changed()
    return added


async def _list(update: Update, services: Services, office: Actor) -> None:
    content, lang = services.content, office.lang
    tz = ZoneInfo(services.config.timezone)
    lines, rows = [content.text(lang, "announce.list_heading")], []
    for region_id in sorted(office.roles.regions):
        for m in await services.storage.meetings_in_region(region_id, int(services.now())):
            when = format_when(
                datetime.fromtimestamp(m.starts_at, tz), lang, content, services.config.timezone
            )
            if m.status == "cancelled":
                lines.append(
                    content.text(lang, "announce.list_cancelled", when=when, title=m.title)
                )
                continue
            counts = await services.storage.mark_counts(m.id)
            lines.append(
                content.text(
                    lang,
                    "announce.list_line",
                    when=when,
                    title=m.title,
                    place=m.place,
                    coming=render.small_count(
                        services.content, services.config, lang, counts["coming"]
                    ),
                    remind=render.small_count(
                        services.content, services.config, lang, counts["remind"]
                    ),
                )
            )
            rows.append(
                _button(
                    services,
                    office,
                    content.text(lang, "announce.change", title=m.title[:30]),
                    f"an:ch:{m.id}",
                )
            )
            rows.append(
                _button(
                    services,
                    office,
                    content.text(lang, "announce.cancel_meeting", title=m.title[:30]),
                    f"an:cx:{m.id}",
                )
            )
    if len(lines) == 1:
        await send(update, render.Rendered(content.text(lang, "announce.list_none")))
        return
    await send(
        update, render.Rendered("\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)
    )


async def _manage(
    update: Update, services: Services, office: Actor, action: str, value: str
) -> None:
    """Change (reopen the preview with the meeting's fields) or cancel an announced meeting."""
    content, lang, storage = services.content, office.lang, services.storage
    meeting = await storage.get_meeting(int(value)) if value.isdigit() else None
    if action == "cn":
        await show(update, render.Rendered(content.text(lang, "announce.cancel_kept")))
        return
    if (
        meeting is None
        or meeting.region_id not in office.roles.regions
        or meeting.status != "active"
    ):
        await show(update, render.Rendered(content.text(lang, "errors.stale_button")))
        return
    if action == "ch":
        flow = {
            "step": "preview",
            "region": meeting.region_id,
            "meeting_id": meeting.id,
            "uid": meeting.uid,
            "title": meeting.title,
            "starts_at": meeting.starts_at,
            "place": meeting.place,
            "link": meeting.link,
            "description": meeting.description,
            "targets": list(meeting.municipalities),
            "back": True,
        }
        await storage.set_flow(office.key, FLOW, flow)
        await _preview(update, services, office, flow)
    elif action == "cx":
        rows = [
            _button(
                services, office, content.text(lang, "announce.cancel_yes"), f"an:cy:{meeting.id}"
            ),
            _button(services, office, content.text(lang, "announce.cancel_no"), "an:cn"),
        ]
        text = content.text(lang, "announce.cancel_confirm", title=meeting.title)
        await send(update, render.Rendered(text, InlineKeyboardMarkup(rows)))
    elif action == "cy":
        cancelled = replace(meeting, status="cancelled")
        version = await storage.update_meeting(cancelled)
        count = await _notify_marked(
            services, replace(cancelled, version=version), f"meeting:{meeting.id}:cancel", "cancel"
        )
        await show(
            update,
            render.Rendered(
                content.text(
                    lang,
                    "announce.cancel_done",
                    count=render.small_count(services.content, services.config, lang, count),
                )
            ),
        )


HANDLERS = [
    CommandHandler("announce", announce_command, filters.ChatType.PRIVATE),
    CallbackQueryHandler(on_button, pattern=r"^an:"),
]
