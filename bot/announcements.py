"""Information meetings from the office side (domain, no Telegram): the composing flow's steps and
rules, who receives an announcement, and queueing announcements, change and cancellation notices
into the outbox.

The flow is a dict stored in `flow_state` after every step: region, the typed fields, targets
(municipality names), and for a change to an announced meeting its id and uid, with `back` set so
each edit returns to the preview.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeGuard

from bot import meeting_views
from bot.config import Config, Region
from bot.services import Services
from bot.storage import Meeting
from bot.when import parse_when

log = logging.getLogger("selvhjelp.events")

FLOW = "announce"
TEXT_STEPS = ("title", "when", "place", "link", "description")
STEPS = (*TEXT_STEPS, "targets", "preview")
SKIPPABLE = ("link", "description")
MAX_CHARS = {"title": 120, "place": 200, "link": 300, "description": 1200, "when": 100}
EDITABLE = ("title", "when", "place", "link", "description", "targets")


@dataclass(frozen=True)
class FieldProblem:
    """Why a typed field was refused: a text key in flows/ and its values."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)


def read_field(
    step: str, value: str, now: float, timezone: str
) -> dict[str, Any] | FieldProblem | None:
    """The flow fields a typed (stripped) answer sets, the problem with it, or None if blank."""
    if not value:
        return None
    if len(value) > MAX_CHARS[step]:
        return FieldProblem("announce.too_long", {"max_chars": MAX_CHARS[step]})
    if step == "when":
        result = parse_when(value, now, timezone)
        if not isinstance(result, datetime):
            return FieldProblem(f"when.error.{result}")
        return {"starts_at": int(result.timestamp())}
    if step == "link" and not re.fullmatch(r"https://\S+", value):  # no bare scheme, no spaces
        return FieldProblem("announce.bad_link")
    return {step: value}


def next_step(flow: dict[str, Any]) -> str:
    """The next unanswered step, or the preview when a field was being changed."""
    return "preview" if flow.get("back") else STEPS[STEPS.index(flow["step"]) + 1]


def flow_region(config: Config, flow: dict[str, Any]) -> Region | None:
    return config.region(str(flow.get("region", "")))


def draft_meeting(office_key: str, flow: dict[str, Any]) -> Meeting:
    """The meeting as the flow describes it (id 0 and no uid for a new one)."""
    return Meeting(
        id=int(flow.get("meeting_id") or 0),
        uid=str(flow.get("uid") or ""),
        office_key=office_key,
        office_chat=b"",
        region_id=str(flow["region"]),
        title=str(flow.get("title", "")),
        starts_at=int(flow.get("starts_at", 0)),
        place=str(flow.get("place", "")),
        link=flow.get("link") or None,
        description=flow.get("description") or None,
        municipalities=tuple(flow.get("targets", ())),
    )


def change_flow(meeting: Meeting) -> dict[str, Any]:
    """The flow that reopens the preview of an announced meeting, to change it."""
    return {
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


def toggled_targets(
    config: Config, flow: dict[str, Any], action: str, code: str
) -> list[str] | None:
    """Targets after a press (`t` toggles one, `tall` takes all, `tdone` keeps them), in config
    order; None when the municipality is not the region's (another region's: never)."""
    region = flow_region(config, flow)
    assert region is not None
    names = [m.name for m in region.municipalities]
    chosen = [n for n in flow.get("targets", []) if n in names]
    if action == "t":
        m = config.municipality_by_code(code)
        if m is None or m.name not in names:
            return None
        chosen = [n for n in chosen if n != m.name] if m.name in chosen else [*chosen, m.name]
    elif action == "tall":
        chosen = names
    return [n for n in names if n in chosen]


def targets_in_region(config: Config, flow: dict[str, Any], draft: Meeting) -> bool:
    region = flow_region(config, flow) or Region("", "", "", ())
    return set(draft.municipalities) <= {m.name for m in region.municipalities}


def is_open(meeting: Meeting | None, regions: frozenset[str]) -> TypeGuard[Meeting]:
    """The meeting exists, is in one of the office's regions and is not cancelled."""
    return meeting is not None and meeting.region_id in regions and meeting.status == "active"


async def recipients(
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


def recipient_sign(services: Services, key: str, chat_enc: bytes) -> meeting_views.Sign | None:
    """Signs a meeting button for the recipient of an outbox row, so only they can press it
    (their private chat's id is their Telegram user id); None when the chat does not decrypt
    (the row could not be sent anyway)."""
    chat_id = services.cipher.decrypt(chat_enc, key)
    if chat_id is None:
        return None
    signer = services.signer
    return lambda data: signer.sign(chat_id, data)


async def announce(services: Services, meeting: Meeting) -> int:
    """Put the announcement in the outbox for everyone in its places who has not had it."""
    storage, content, config = services.storage, services.content, services.config
    rows = []
    for key, chat_enc in await recipients(services, meeting.region_id, meeting.municipalities):
        lang = await storage.get_language(key) or config.default_language
        sign = recipient_sign(services, key, chat_enc)
        payload = meeting_views.announcement_payload(content, config, lang, meeting, sign)
        rows.append((key, chat_enc, payload))
    added = await storage.enqueue(f"meeting:{meeting.id}", rows)
    services.outbox_changed()
    return added


async def notify_marked(services: Services, meeting: Meeting, campaign: str, kind: str) -> int:
    """Tell everyone who pressed "I'm coming" or "Remind me" about a change or cancellation."""
    storage, content, config = services.storage, services.content, services.config
    rows = []
    for key, chat_enc in await storage.marked_people(meeting.id):
        lang = await storage.get_language(key) or config.default_language
        build = meeting_views.change_payload if kind == "change" else meeting_views.cancel_payload
        sign = recipient_sign(services, key, chat_enc)
        rows.append((key, chat_enc, build(content, config, lang, meeting, sign)))
    added = await storage.enqueue(campaign, rows)
    services.outbox_changed()
    return added


async def create(services: Services, draft: Meeting, chat_id: int) -> tuple[Meeting, int]:
    """Save a new meeting (the office's chat encrypted, for replies) and queue its announcement;
    the saved meeting and how many recipients were queued."""
    meeting = replace(
        draft, uid=uuid.uuid4().hex, office_chat=services.cipher.encrypt(chat_id, draft.office_key)
    )
    meeting = replace(meeting, id=await services.storage.create_meeting(meeting), version=1)
    added = await announce(services, meeting)
    log.info("meeting_announced recipients=%d", added)
    return meeting, added


async def change(services: Services, draft: Meeting, regions: frozenset[str]) -> int | None:
    """Save a change to an announced meeting and tell those who signed up; how many were told,
    or None when the meeting is gone, cancelled or outside `regions`."""
    old = await services.storage.get_meeting(draft.id)
    if not is_open(old, regions):
        return None
    meeting = replace(
        old,
        title=draft.title,
        starts_at=draft.starts_at,
        place=draft.place,
        link=draft.link,
        description=draft.description,
        municipalities=draft.municipalities,
    )
    version = await services.storage.update_meeting(meeting)
    meeting = replace(meeting, version=version)
    # Places added by the change get the announcement; everyone who had it keeps theirs.
    await announce(services, meeting)
    return await notify_marked(services, meeting, f"meeting:{meeting.id}:v{version}", "change")


async def cancel(services: Services, meeting: Meeting) -> int:
    """Cancel a meeting and tell those who signed up; how many were told."""
    cancelled = replace(meeting, status="cancelled")
    version = await services.storage.update_meeting(cancelled)
    return await notify_marked(
        services, replace(cancelled, version=version), f"meeting:{meeting.id}:cancel", "cancel"
    )


async def upcoming(
    services: Services, regions: frozenset[str]
) -> list[tuple[Meeting, dict[str, int] | None]]:
    """Meetings ahead in the office's regions, each with its marks (None when cancelled)."""
    listed: list[tuple[Meeting, dict[str, int] | None]] = []
    for region_id in sorted(regions):
        for m in await services.storage.meetings_in_region(region_id, int(services.now())):
            counts = None if m.status == "cancelled" else await services.storage.mark_counts(m.id)
            listed.append((m, counts))
    return listed
