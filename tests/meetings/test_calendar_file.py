"""The .ics file for a meeting, parsed back with icalendar and checked field by field."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event, Timezone

from bot.content import Content
from bot.meetings.calendar_file import DEFAULT_DURATION, ics_filename, meeting_ics
from bot.storage import Meeting

OSLO = ZoneInfo("Europe/Oslo")
NOW = datetime(2027, 3, 1, 10, 0, tzinfo=OSLO).timestamp()
TITLE = "Informasjonsmøte: selvhjelp, hva er det; og hvordan «starte»?"
PLACE = "Biblioteket, 2. etasje; Storgata 1\nÅrnes"
DESCRIPTION = "Velkommen!\nVi snakker om æøå, kaffe; og kake.\\ Ta med en venn."
LINK = "https://example.org/møte?a=1,b=2;c"


def oslo_ts(year: int, month: int, day: int, hour: int, minute: int) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=OSLO).timestamp())


@pytest.fixture
def meeting() -> Meeting:
    return Meeting(
        id=7,
        uid="m-3f9c2a",
        office_key="office",
        office_chat=b"enc",
        region_id="romerike",
        title=TITLE,
        starts_at=oslo_ts(2027, 3, 12, 18, 0),
        place=PLACE,
        link=LINK,
        description=DESCRIPTION,
        municipalities=("Nes", "Ullensaker"),
        status="active",
        version=1,
    )


def parse(data: bytes) -> tuple[Calendar, Event]:
    calendar = Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    assert isinstance(events[0], Event)
    return calendar, events[0]


def test_the_event_carries_the_meeting(content: Content, meeting: Meeting) -> None:
    calendar, event = parse(meeting_ics(meeting, content=content, lang="nb", now=NOW))
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]).startswith("-//")
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(event["UID"]) == "m-3f9c2a@selvhjelp-bot"
    assert event.sequence == 1
    assert event.decoded("DTSTAMP") == datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["URL"]) == LINK


def test_start_is_oslo_wall_clock(content: Content, meeting: Meeting) -> None:
    data = meeting_ics(meeting, content=content, lang="nb", now=NOW)
    assert b"DTSTART;TZID=Europe/Oslo:20270312T180000\r\n" in data
    _, event = parse(data)
    assert event["DTSTART"].params["TZID"] == "Europe/Oslo"
    assert event["DTEND"].params["TZID"] == "Europe/Oslo"
    start = event.decoded("DTSTART")
    assert start.replace(tzinfo=None) == datetime(2027, 3, 12, 18, 0)  # naive: Oslo wall clock
    assert start.timestamp() == meeting.starts_at
    assert event.decoded("DTEND") - start == DEFAULT_DURATION == timedelta(hours=2)


@pytest.mark.parametrize(
    ("starts", "offset"),
    [
        (datetime(2027, 3, 12, 18, 0), timedelta(hours=1)),
        (datetime(2027, 6, 10, 18), timedelta(hours=2)),
    ],
)
def test_the_included_vtimezone_gives_oslo_offsets(
    content: Content, meeting: Meeting, starts: datetime, offset: timedelta
) -> None:
    """Calendar apps that do not know IANA names rely on the VTIMEZONE: it must be right."""
    starts_at = int(starts.replace(tzinfo=OSLO).timestamp())
    meeting = dataclasses.replace(meeting, starts_at=starts_at)
    calendar, event = parse(meeting_ics(meeting, content=content, lang="nb", now=NOW))
    zones = calendar.walk("VTIMEZONE")
    assert [str(z["TZID"]) for z in zones] == ["Europe/Oslo"]
    zone = zones[0]
    assert isinstance(zone, Timezone)
    assert zone.walk("STANDARD")
    assert zone.walk("DAYLIGHT")
    own_zone = zone.to_tz(lookup_tzid=False)  # built from the file, not from the system
    wall = event.decoded("DTSTART").replace(tzinfo=None)
    assert wall == starts
    assert own_zone.utcoffset(wall) == offset


def test_text_with_commas_semicolons_newlines_and_aeoeaa_round_trips(
    content: Content, meeting: Meeting
) -> None:
    data = meeting_ics(meeting, content=content, lang="nb", now=NOW)
    _, event = parse(data)
    assert str(event["SUMMARY"]) == TITLE
    assert str(event["LOCATION"]) == PLACE
    assert str(event["DESCRIPTION"]) == f"{DESCRIPTION}\n\nDelta på nett: {LINK}"
    # Escaped as RFC 5545 says, and folded at 75 octets without breaking a character.
    assert "Biblioteket\\, 2. etasje\\; Storgata 1\\nÅrnes" in data.decode("utf-8")
    lines = data.split(b"\r\n")
    assert all(len(line) <= 75 for line in lines)
    for line in lines:
        line.decode("utf-8")  # each physical line is valid UTF-8 on its own
    assert data.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_english_wording_for_the_online_link(content: Content, meeting: Meeting) -> None:
    _, event = parse(meeting_ics(meeting, content=content, lang="en", now=NOW))
    assert str(event["DESCRIPTION"]).endswith(f"\n\nJoin online: {LINK}")


def test_without_link_or_description_there_is_no_url_or_description(
    content: Content, meeting: Meeting
) -> None:
    bare = dataclasses.replace(meeting, link=None, description=None)
    _, event = parse(meeting_ics(bare, content=content, lang="nb", now=NOW))
    assert "URL" not in event
    assert "DESCRIPTION" not in event
    link_only = dataclasses.replace(meeting, description="")
    _, event = parse(meeting_ics(link_only, content=content, lang="nb", now=NOW))
    assert str(event["DESCRIPTION"]) == f"Delta på nett: {LINK}"


def test_control_characters_are_dropped_and_windows_newlines_kept(
    content: Content, meeting: Meeting
) -> None:
    messy = dataclasses.replace(meeting, title="Møte\x00\x07 i\tkveld", place="Rom 1\r\nRom 2")
    _, event = parse(meeting_ics(messy, content=content, lang="nb", now=NOW))
    assert str(event["SUMMARY"]) == "Møte i\tkveld"
    assert str(event["LOCATION"]) == "Rom 1\nRom 2"


def test_uid_is_stable_and_sequence_grows_with_changes(content: Content, meeting: Meeting) -> None:
    first = meeting_ics(meeting, content=content, lang="nb", now=NOW)
    again = meeting_ics(meeting, content=content, lang="en", now=NOW + 3600)
    moved = dataclasses.replace(meeting, starts_at=oslo_ts(2027, 3, 19, 19, 0), version=2)
    changed = meeting_ics(moved, content=content, lang="nb", now=NOW + 7200)
    events = [parse(data)[1] for data in (first, again, changed)]
    assert {str(e["UID"]) for e in events} == {"m-3f9c2a@selvhjelp-bot"}
    assert [e.sequence for e in events] == [1, 1, 2]
    assert events[2].decoded("DTSTART").replace(tzinfo=None) == datetime(2027, 3, 19, 19, 0)
    assert events[2].decoded("DTSTAMP") > events[0].decoded("DTSTAMP")


def test_a_cancelled_meeting_cancels_the_same_entry(content: Content, meeting: Meeting) -> None:
    cancelled = dataclasses.replace(meeting, status="cancelled", version=3)
    calendar, event = parse(meeting_ics(cancelled, content=content, lang="nb", now=NOW))
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == "m-3f9c2a@selvhjelp-bot"
    assert event.sequence == 3


def test_the_file_name_is_ascii_and_uses_the_local_date(meeting: Meeting) -> None:
    assert ics_filename(meeting) == "infomote-2027-03-12.ics"
    # 00:30 in Oslo is still the previous day in UTC: the name follows Oslo.
    late = dataclasses.replace(meeting, starts_at=oslo_ts(2027, 3, 13, 0, 30))
    assert ics_filename(late) == "infomote-2027-03-13.ics"
    assert ics_filename(late).isascii()
