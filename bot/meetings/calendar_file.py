"""An information meeting as an RFC 5545 calendar file (.ics), built with icalendar (pure).

Why these choices:
- UID is the meeting's own uid plus a fixed domain and SEQUENCE is the meeting's version, so a
  resident who adds the meeting again after a change (or a cancellation) updates the same
  calendar entry instead of getting a second one.
- DTSTART/DTEND carry TZID=Europe/Oslo and the file includes the matching VTIMEZONE, so
  calendars show the local time the office chose, also across daylight saving time.
- METHOD is PUBLISH, or CANCEL (with STATUS:CANCELLED) for a cancelled meeting. There is no
  ORGANIZER: the office has no calendar address, and without one calendar apps import the file
  as a plain entry rather than as an invitation expecting a reply.
- icalendar escapes commas, semicolons, backslashes and newlines in text and folds long lines at
  75 octets without splitting æøå; we only drop control characters RFC 5545 does not allow.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from icalendar import Calendar, Event

from bot.content import Content
from bot.meetings.when import DEFAULT_TZ, from_timestamp
from bot.records import Meeting

DEFAULT_DURATION = timedelta(hours=2)  # meetings have no end time; most last about two hours
UID_DOMAIN = "selvhjelp-bot"
PRODID = "-//Selvhjelp Norge//selvhjelp-bot//NO"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # everything but tab and newline


def _clean(text: str) -> str:
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def meeting_uid(meeting: Meeting) -> str:
    return f"{meeting.uid}@{UID_DOMAIN}"


def meeting_ics(
    meeting: Meeting, *, content: Content, lang: str, now: float, tz: str = DEFAULT_TZ
) -> bytes:
    """The .ics file for `meeting`, in `lang` where the bot adds words (the online-link line)."""
    cancelled = meeting.status == "cancelled"
    start = from_timestamp(meeting.starts_at, tz)
    end = (start.astimezone(UTC) + DEFAULT_DURATION).astimezone(start.tzinfo)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")

    event = Event()
    event.add("uid", meeting_uid(meeting))
    event.add("sequence", meeting.version)
    event.add("dtstamp", datetime.fromtimestamp(now, UTC))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", _clean(meeting.title))
    event.add("location", _clean(meeting.place))
    lines = [_clean(meeting.description or "")]
    if meeting.link:
        lines.append(content.text(lang, "when.ics.online", link=_clean(meeting.link)))
        event.add("url", _clean(meeting.link))
    description = "\n\n".join(line for line in lines if line)
    if description:
        event.add("description", description)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar.add_component(event)
    # Transitions for a few years around the meeting keep the file small (the default range,
    # 1970-2038, lists every clock change in between).
    calendar.add_missing_timezones(
        first_date=date(start.year - 1, 1, 1), last_date=date(start.year + 2, 1, 1)
    )
    return calendar.to_ical()


def ics_filename(meeting: Meeting, tz: str = DEFAULT_TZ) -> str:
    """ "infomote-2027-03-12.ics": ASCII only, so every phone and mail client keeps the name."""
    day = from_timestamp(meeting.starts_at, tz).date().isoformat()
    return f"infomote-{day}.ics"
