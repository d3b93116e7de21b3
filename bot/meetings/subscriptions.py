"""Following information meetings, and a resident's marks on one meeting (domain, no Telegram).

Who hears of a meeting (issue 11), one model told the same way everywhere: a resident who
registered interest and said yes to messages gets the meetings of the municipality they
registered in; anyone can follow more places with /meetings, or stop any of them (stopping the
registered place keeps the yes for start-meeting invitations). Following is private: a
subscription is (user key, region, municipality or '' for the whole region), stored next to the
registration and erased by /forget. "Coming" and "remind me" are anonymous marks the office sees
as counts.

Button data (its shape: bot.meetings.buttons) is checked here against config.yaml; anything
forged or out of date parses to None:
- `ms:home` the overview; `ms:open` the same as a new message (from an FAQ answer);
  `ms:r:<region>` a region's municipalities;
- `ms:m:<code>` / `ms:w:<region>` follow a municipality / a whole region (edits the view);
- `ms:sub:<code>` / `ms:subr:<region>` the same from another message (the "registration
  saved" message, "follow again"), answered with a new message so that one stays as it was;
- `ms:un:<code>` / `ms:unr:<region>` stop one; `ms:all` stop all;
- `mt:<meeting id>:<action>` one meeting's buttons (bot.meetings.views), action in ACTIONS
  (`show`: the meeting's card, from the /meetings list),
  signed for its recipient (`~tag`); a press works only on a button signed for the presser, or
  (unsigned, from before buttons were signed) on a meeting `meeting_is_listed` for them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.config import Config
from bot.meetings import buttons
from bot.roles.lookup import Roles
from bot.security.pseudonyms import ChatCipher
from bot.storage import Meeting, Storage
from bot.weeks import DAY

log = logging.getLogger("selvhjelp.events")

Place = tuple[str, str]  # (region id, municipality name or '' for the whole region)
ACTIONS = tuple(buttons.MeetingAction)  # calendar file, remind me, coming, stop, card
FOLLOW = ("m", "w", "sub", "subr")
UNFOLLOW = ("un", "unr")
FROM_ELSEWHERE = ("sub", "subr", "open")  # answered with a new message, not by editing
_MARKS = {"rem": "remind", "go": "coming"}


@dataclass(frozen=True)
class Presser:
    """The person who pressed a button in their own private chat with the bot."""

    key: str  # pseudonymous user key
    chat_id: int
    lang: str  # the language they use now


def parse_follow(data: str, config: Config) -> tuple[str, Place | None] | None:
    """(action, place) of a valid `ms:` button, or None for anything forged or out of date."""
    pressed = buttons.decode_follow(data)
    if pressed is None:
        return None
    action, value = pressed.action, pressed.value
    if not pressed.values:
        return action, None
    if action in buttons.REGION_ACTIONS:
        region = config.region(value)
        return (action, (region.id, "")) if region is not None else None
    m = config.municipality_by_code(value)
    return (action, (m.region_id, m.name)) if m is not None else None


def parse_meeting_button(data: str) -> tuple[int, str] | None:
    """(meeting id, action) of a well-formed `mt:` button, or None."""
    return buttons.decode_meeting(data)


async def remember(storage: Storage, cipher: ChatCipher, presser: Presser) -> bytes:
    """Keep the encrypted chat (announcements must reach them) and, unless they chose one,
    the language they use now. Returns the encrypted chat."""
    chat_enc = cipher.encrypt(presser.chat_id, presser.key)
    await storage.ensure_resident(presser.key, chat_enc)
    if await storage.get_language(presser.key) is None:
        await storage.set_language(presser.key, presser.lang, chosen=False)
    return chat_enc


async def change_following(
    storage: Storage, cipher: ChatCipher, presser: Presser, action: str, place: Place | None
) -> str:
    """Carry out an `ms:` button on the presser's own subscriptions; returns the content key
    of the note to show above the overview ('' when nothing changed)."""
    key = presser.key
    registered = await registered_place(storage, key)
    if action in FOLLOW and place is not None:
        await remember(storage, cipher, presser)
        if registered is not None and registered[1] == place:
            await storage.set_meeting_optout(key, *place, stopped=False)  # on again
        added = await storage.subscribe(key, *place)
        log.info("meetings_subscribed added=%s", added)
        return "subscribe.subscribed" if added else "subscribe.already"
    if action in UNFOLLOW and place is not None:
        if registered is not None and registered[1] == place:
            await storage.set_meeting_optout(key, *place, stopped=True)
        await storage.unsubscribe(key, *place)
        log.info("meetings_unsubscribed")
        return "subscribe.unsubscribed"
    if action == "all":
        if registered is not None:
            await storage.set_meeting_optout(key, *registered[1], stopped=True)
        await storage.unsubscribe(key)
        log.info("meetings_unsubscribed_all")
        return "subscribe.stopped_all"
    return ""


async def registered_place(storage: Storage, key: str) -> tuple[bool, Place] | None:
    """(still on, place) of the municipality the person registered in with a yes to
    messages: on when its meetings reach them, off when they stopped them; None when their
    registration brings no meetings (none, no to messages, an unlisted place)."""
    reg = await storage.get_registration(key)
    if reg is None or not reg.contact_ok or not reg.municipality:
        return None
    place = (reg.region_id, reg.municipality)
    return (await storage.registered_meeting_place(key) == place, place)


async def followed_places(storage: Storage, key: str) -> tuple[list[Place], Place | None]:
    """Every place whose meetings reach the person (their follows, and the municipality they
    registered in unless stopped), and which of them comes from the registration."""
    places = await storage.subscriptions_of(key)
    registered = await registered_place(storage, key)
    if registered is None or not registered[0]:
        return places, None
    place = registered[1]
    return ([place, *(p for p in places if p != place)], place)


async def meeting_is_listed(storage: Storage, roles: Roles, key: str, meeting: Meeting) -> bool:
    """Whether this meeting is one for the person, asked at every press of an unsigned button:
    it was announced to a place they follow (or their whole region) or to the municipality they
    registered in; they coordinate one of its places, are an office of its region, made it, or
    already marked it. Built on places, not on who was sent it, so it holds whoever receives
    announcements."""
    places = {(meeting.region_id, ""), *((meeting.region_id, m) for m in meeting.municipalities)}
    if places & set(await storage.subscriptions_of(key)):
        return True
    reg = await storage.get_registration(key)
    if reg is not None and (reg.region_id, reg.municipality) in places and reg.municipality:
        return True
    if roles.municipalities & set(meeting.municipalities) or meeting.region_id in roles.regions:
        return True
    return meeting.office_key == key or await storage.has_mark(meeting.id, key)


def refusal(meeting: Meeting | None, action: str, now: int) -> str | None:
    """The content key of the alert refusing `action` on this meeting, or None to go ahead.
    Stop works on any announcement, even of a meeting long gone."""
    if meeting is None:
        return "subscribe.meeting.not_on"
    if action == "stop":
        return None
    if meeting.status != "active":
        return "subscribe.meeting.not_on"
    if meeting.starts_at <= now:
        return "subscribe.meeting.past"
    return None


async def toggle_mark(
    storage: Storage, cipher: ChatCipher, presser: Presser, meeting: Meeting, action: str, now: int
) -> str:
    """`rem` or `go`: set the mark, or take it away when it was set; returns the content key
    to answer with."""
    mark = _MARKS[action]
    chat_enc = await remember(storage, cipher, presser)
    if not await storage.set_mark(meeting.id, presser.key, mark, chat_enc):
        await storage.clear_mark(meeting.id, presser.key, mark)
        log.info("meeting_mark_cleared mark=%s", mark)
        return (
            "subscribe.meeting.remind_off" if mark == "remind" else "subscribe.meeting.coming_off"
        )
    log.info("meeting_mark_set mark=%s", mark)
    if mark == "coming":
        return "subscribe.meeting.coming_on"
    if meeting.starts_at - now <= DAY:
        # "The meeting is tomorrow" would be wrong now; the mark still counts and brings changes.
        await storage.mark_reminder_sent(meeting.id, presser.key)
        return "subscribe.meeting.remind_soon"
    return "subscribe.meeting.remind_on"


async def stop_meeting(storage: Storage, key: str, meeting: Meeting) -> list[Place]:
    """Stop the subscriptions this meeting reached the person through (its region and its
    municipalities); returns those that were stopped."""
    places = [(meeting.region_id, ""), *((meeting.region_id, m) for m in meeting.municipalities)]
    followed, registered = await followed_places(storage, key)
    removed = [p for p in places if p in followed]
    if registered is not None and registered in removed:
        await storage.set_meeting_optout(key, *registered, stopped=True)
    for place in removed:
        await storage.unsubscribe(key, *place)
    log.info("meeting_stop removed=%d", len(removed))
    return removed
