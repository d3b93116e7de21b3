"""Information meetings from the office side (domain, no Telegram): the composing flow's steps and
rules, who receives an announcement, and queueing announcements, change and cancellation notices
into the outbox.

The flow is an `AnnounceDraft` stored in `flow_state` after every step (bot.chat.steps): region,
the typed fields, targets (municipality names), and for a change to an announced meeting its id
and uid, with `back` set so each edit returns to the preview.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, TypeGuard

from bot.config import Config, Region
from bot.meetings import subscriptions as meeting_subscriptions
from bot.meetings import views as meeting_views
from bot.meetings.when import parse_when
from bot.outbox import message as outbox
from bot.outbox.message import OutboxRowDraft
from bot.services import Services
from bot.storage import Meeting
from bot.weeks import DAY

log = logging.getLogger("selvhjelp.events")

FLOW = "announce"
TEXT_STEPS = ("title", "when", "place", "link", "description")
STEPS = (*TEXT_STEPS, "targets", "preview")
SKIPPABLE = ("link", "description")
MAX_CHARS = {"title": 120, "place": 200, "link": 300, "description": 1200, "when": 100}
EDITABLE = ("title", "when", "place", "link", "description", "targets")
# The draft's field each step answers, in the order of the steps.
STEP_FIELDS = (
    ("title", "title"),
    ("when", "starts_at"),
    ("place", "place"),
    ("link", "link"),
    ("description", "description"),
    ("targets", "targets"),
)


@dataclass(frozen=True)
class AnnounceDraft:
    """Where an office is in composing (or changing) a meeting; stored as the JSON the flow
    has always stored: step, region, [meeting_id, uid,] the answered fields (a skipped link or
    description as null), targets once chosen, and `back` only when set."""

    FLOW: ClassVar[str] = FLOW

    step: str
    region: str
    meeting_id: int | None = None  # set (with uid) when changing an announced meeting
    uid: str | None = None
    title: str | None = None
    starts_at: int | None = None
    place: str | None = None
    link: str | None = None
    description: str | None = None
    targets: tuple[str, ...] | None = None
    back: bool = False  # every edit returns to the preview

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"step": self.step, "region": self.region}
        if self.meeting_id is not None:
            data.update(meeting_id=self.meeting_id, uid=self.uid)
        at = STEPS.index(self.step) if self.step in STEPS else len(STEPS)
        for step, name in STEP_FIELDS:
            value = getattr(self, name)
            # An answered step is stored even when its answer is "nothing" (a skipped link).
            if value is not None or self.back or STEPS.index(step) < at:
                data[name] = list(value) if name == "targets" and value is not None else value
        if self.back:
            data["back"] = True
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnnounceDraft:
        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        def number(key: str) -> int | None:
            value = data.get(key)
            return None if value is None else int(value)

        targets = data.get("targets")
        return cls(
            step=str(data.get("step", "title")),
            region=str(data.get("region", "")),
            meeting_id=number("meeting_id"),
            uid=text("uid"),
            title=text("title"),
            starts_at=number("starts_at"),
            place=text("place"),
            link=text("link"),
            description=text("description"),
            targets=None if targets is None else tuple(str(n) for n in targets),
            back=bool(data.get("back")),
        )


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


def next_step(flow: AnnounceDraft) -> str:
    """The next unanswered step, or the preview when a field was being changed."""
    return "preview" if flow.back else STEPS[STEPS.index(flow.step) + 1]


def flow_region(config: Config, flow: AnnounceDraft) -> Region | None:
    return config.region(flow.region)


def draft_meeting(office_key: str, flow: AnnounceDraft) -> Meeting:
    """The meeting as the flow describes it (id 0 and no uid for a new one)."""
    return Meeting(
        id=flow.meeting_id or 0,
        uid=flow.uid or "",
        office_key=office_key,
        office_chat=b"",
        region_id=flow.region,
        title=flow.title or "",
        starts_at=flow.starts_at or 0,
        place=flow.place or "",
        link=flow.link or None,
        description=flow.description or None,
        municipalities=flow.targets or (),
    )


def change_flow(meeting: Meeting) -> AnnounceDraft:
    """The flow that reopens the preview of an announced meeting, to change it."""
    return AnnounceDraft(
        step="preview",
        region=meeting.region_id,
        meeting_id=meeting.id,
        uid=meeting.uid,
        title=meeting.title,
        starts_at=meeting.starts_at,
        place=meeting.place,
        link=meeting.link,
        description=meeting.description,
        targets=meeting.municipalities,
        back=True,
    )


def toggled_targets(
    config: Config, flow: AnnounceDraft, action: str, code: str
) -> list[str] | None:
    """Targets after a press (`t` toggles one, `tall` takes all, `tdone` keeps them), in config
    order; None when the municipality is not the region's (another region's: never)."""
    region = flow_region(config, flow)
    assert region is not None
    names = [m.name for m in region.municipalities]
    chosen = [n for n in flow.targets or () if n in names]
    if action == "t":
        m = config.municipality_by_code(code)
        if m is None or m.name not in names:
            return None
        chosen = [n for n in chosen if n != m.name] if m.name in chosen else [*chosen, m.name]
    elif action == "tall":
        chosen = names
    return [n for n in names if n in chosen]


def targets_in_region(config: Config, flow: AnnounceDraft, draft: Meeting) -> bool:
    region = flow_region(config, flow) or Region("", "", "", ())
    return set(draft.municipalities) <= {m.name for m in region.municipalities}


def is_open(meeting: Meeting | None, regions: frozenset[str]) -> TypeGuard[Meeting]:
    """The meeting exists, is in one of the office's regions and is not cancelled."""
    return meeting is not None and meeting.region_id in regions and meeting.status == "active"


async def recipients(
    services: Services, region_id: str, targets: tuple[str, ...]
) -> list[tuple[str, bytes]]:
    """Who an announcement goes to, each once (the consent model of issue 11): residents
    registered in the targeted places who said yes to messages (unless they stopped meetings
    there), everyone following those places or their whole region, and the coordinators
    there."""
    storage = services.storage
    found = dict(await storage.registered_for_meetings(region_id, targets))
    for key, chat_enc in await storage.subscribers_for(region_id, targets):
        found.setdefault(key, chat_enc)
    for key, chat_enc in await coordinators_of(services, targets):
        found.setdefault(key, chat_enc)
    return list(found.items())


async def coordinators_of(services: Services, targets: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """The coordinators of these places (config.yaml and role links): they get every
    announcement there, and its changes."""
    found: dict[str, bytes] = {}
    for c in services.config.coordinators:
        if set(c.municipalities) & set(targets):
            key = services.user_key(c.user_id)
            found.setdefault(key, services.cipher.encrypt(c.user_id, key))
    for grant in await services.storage.all_roles():
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


async def announce(
    services: Services, meeting: Meeting, skip: frozenset[str] = frozenset()
) -> int:
    """Put the announcement in the outbox for everyone in its places who has not had it (nor
    is in `skip`: told of it otherwise), and remember them as its recipients (they hear of a
    change or cancellation)."""
    storage, content, config = services.storage, services.content, services.config
    rows: list[OutboxRowDraft] = []
    for key, chat_enc in await recipients(services, meeting.region_id, meeting.municipalities):
        if key in skip:
            continue
        lang = await storage.get_language(key) or config.default_language
        sign = recipient_sign(services, key, chat_enc)
        message = meeting_views.announcement_message(content, config, lang, meeting, sign)
        rows.append((key, chat_enc, message))
    await storage.add_meeting_recipients(meeting.id, (key for key, _, _ in rows))
    added = await outbox.enqueue(storage, f"meeting:{meeting.id}", rows)
    services.outbox_changed()
    return added


async def told_of_changes(services: Services, meeting: Meeting) -> list[tuple[str, bytes]]:
    """Everyone a change or cancellation reaches, each once: those the meeting was sent or
    shown to, those who marked it ("I'm coming", "Remind me") and the coordinators there (who
    got it as part of their role); nobody else."""
    storage = services.storage
    found = dict(await storage.meeting_recipients(meeting.id))
    for key, chat_enc in await storage.marked_people(meeting.id):
        found.setdefault(key, chat_enc)
    for key, chat_enc in await coordinators_of(services, meeting.municipalities):
        found.setdefault(key, chat_enc)
    return list(found.items())


async def notify_marked(
    services: Services,
    meeting: Meeting,
    campaign: str,
    kind: str,
    people: list[tuple[str, bytes]] | None = None,
) -> int:
    """Tell everyone who had the announcement (or marked the meeting) about a change or
    cancellation; `people` when the caller read them before changing who that is."""
    storage, content, config = services.storage, services.content, services.config
    rows: list[OutboxRowDraft] = []
    if people is None:
        people = await told_of_changes(services, meeting)
    for key, chat_enc in people:
        lang = await storage.get_language(key) or config.default_language
        build = meeting_views.change_message if kind == "change" else meeting_views.cancel_message
        sign = recipient_sign(services, key, chat_enc)
        rows.append((key, chat_enc, build(content, config, lang, meeting, sign)))
    added = await outbox.enqueue(storage, campaign, rows)
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
    # Too close now for a reminder the day before: the change notice is the last word, so no
    # reminder follows it (and "remind me" said so when pressed this close).
    rearm = meeting.starts_at - int(services.now()) > DAY
    version = await services.storage.update_meeting(meeting, rearm=rearm)
    meeting = replace(meeting, version=version)
    told = await told_of_changes(services, old)  # before the new places are added
    campaign = f"meeting:{meeting.id}:v{version}"
    notified = await notify_marked(services, meeting, campaign, "change", told)
    # Places added by the change get the announcement (as it is now); everyone who had it
    # keeps theirs and has the change notice instead.
    await announce(services, meeting, frozenset(key for key, _ in told))
    return notified


async def cancel(services: Services, meeting: Meeting) -> int:
    """Cancel a meeting: nothing queued about it goes out any more (announcement, change,
    reminder: dropped here, and the sender re-checks), and everyone who had it is told."""
    cancelled = replace(meeting, status="cancelled")
    version = await services.storage.update_meeting(cancelled)
    await services.storage.drop_meeting_queue(meeting.id)
    return await notify_marked(
        services, replace(cancelled, version=version), f"meeting:{meeting.id}:cancel", "cancel"
    )


def for_places(meeting: Meeting, places: list[tuple[str, str]]) -> bool:
    """Whether a meeting was announced to one of these places (a municipality, or '' for a
    whole region)."""
    return any(
        region == meeting.region_id and (not name or name in meeting.municipalities)
        for region, name in places
    )


async def upcoming_for(services: Services, places: list[tuple[str, str]]) -> list[Meeting]:
    """Upcoming, not cancelled meetings for these places, soonest first."""
    now = int(services.now())
    found: dict[int, Meeting] = {}
    for region_id in sorted({region for region, _ in places}):
        for m in await services.storage.meetings_in_region(region_id, now):
            if m.status == "active" and for_places(m, places):
                found[m.id] = m
    return sorted(found.values(), key=lambda m: (m.starts_at, m.id))


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


async def listing_for(
    services: Services, key: str
) -> tuple[list[tuple[str, str]], tuple[str, str] | None, list[Meeting]]:
    """What /meetings shows a person: the places whose meetings reach them, the one their
    registration brings (or None), and the upcoming meetings there. Each meeting shown counts
    as received: a change or cancellation of it reaches them too."""
    places, registered = await meeting_subscriptions.followed_places(services.storage, key)
    meetings = await upcoming_for(services, places) if places else []
    for m in meetings:
        await services.storage.add_meeting_recipients(m.id, (key,))
    return places, registered, meetings
