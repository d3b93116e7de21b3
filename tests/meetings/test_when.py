"""Meeting times as offices type them: every accepted form, every refusal, Oslo's clock changes.

`now` is fixed at Monday 1 March 2027 10:00 in Oslo (winter time, +01:00).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import LANGUAGES
from bot.content import Content
from bot.meetings.when import WHEN_ERRORS, format_when, from_timestamp, parse_when

OSLO = ZoneInfo("Europe/Oslo")
NOW = datetime(2027, 3, 1, 10, 0, tzinfo=OSLO).timestamp()  # a Monday


def at(text: str, now: float = NOW) -> datetime:
    """The parsed moment as naive Oslo wall-clock time, failing with the error key if refused."""
    result = parse_when(text, now)
    assert isinstance(result, datetime), (text, result)
    assert result.tzinfo is not None
    assert result.utcoffset() == result.astimezone(OSLO).utcoffset()
    return result.astimezone(OSLO).replace(tzinfo=None)


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute)  # naive on purpose: Oslo wall-clock time


# --- accepted forms ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.03 kl 18", local(2027, 3, 12, 18, 0)),
        ("12.03. kl. 18.30", local(2027, 3, 12, 18, 30)),
        ("12.3 18:00", local(2027, 3, 12, 18, 0)),
        ("12.03.2027 18:00", local(2027, 3, 12, 18, 0)),
        ("12.03.27 kl 18", local(2027, 3, 12, 18, 0)),
        ("12. mars 18:00", local(2027, 3, 12, 18, 0)),
        ("12 mars kl 18", local(2027, 3, 12, 18, 0)),
        ("12. mars 2027 kl. 18", local(2027, 3, 12, 18, 0)),
        ("12.mars kl.18", local(2027, 3, 12, 18, 0)),
        ("12/3 kl 18", local(2027, 3, 12, 18, 0)),
        ("2027-03-12 18:00", local(2027, 3, 12, 18, 0)),
        ("12.03 kl18", local(2027, 3, 12, 18, 0)),
        ("12.03 kl 18-20", local(2027, 3, 12, 18, 0)),
        ("12.03 18:00\u201320:00", local(2027, 3, 12, 18, 0)),
        ("12.03 19", local(2027, 3, 12, 19, 0)),
        ("12.03 19.30", local(2027, 3, 12, 19, 30)),
        ("tirsdag 19.30", local(2027, 3, 2, 19, 30)),
        ("tirsdag kl 19", local(2027, 3, 2, 19, 0)),
        ("på tirsdag 19:30", local(2027, 3, 2, 19, 30)),
        ("Tirsdag kl. 19.00", local(2027, 3, 2, 19, 0)),
        ("tirsdag 16.03 19.30", local(2027, 3, 16, 19, 30)),
        ("i morgen 18", local(2027, 3, 2, 18, 0)),
        ("i morgen kl 18.15", local(2027, 3, 2, 18, 15)),
        ("imorgen kl 9", local(2027, 3, 2, 9, 0)),
        ("i dag kl 18", local(2027, 3, 1, 18, 0)),
        ("i kveld 19", local(2027, 3, 1, 19, 0)),
        ("i overmorgen 12:00", local(2027, 3, 3, 12, 0)),
        ("fredag 12. mars 18:00", local(2027, 3, 12, 18, 0)),
        ("fredag den 12. mars kl 18", local(2027, 3, 12, 18, 0)),
        ("fre 12.03 kl 18", local(2027, 3, 12, 18, 0)),
        ("lørdag kl 12", local(2027, 3, 6, 12, 0)),
        ("lordag kl 12", local(2027, 3, 6, 12, 0)),
        # nynorsk
        ("måndag 18", local(2027, 3, 1, 18, 0)),  # today, still ahead
        ("tysdag 19.30", local(2027, 3, 2, 19, 30)),
        ("onsdag kl 18", local(2027, 3, 3, 18, 0)),
        ("torsdag 17:00", local(2027, 3, 4, 17, 0)),
        ("laurdag kl 12", local(2027, 3, 6, 12, 0)),
        ("sundag 10.00", local(2027, 3, 7, 10, 0)),
        ("i morgon kl 9", local(2027, 3, 2, 9, 0)),
        ("i overmorgon 12", local(2027, 3, 3, 12, 0)),
        # English
        ("March 12 6pm", local(2027, 3, 12, 18, 0)),
        ("12 March 18:00", local(2027, 3, 12, 18, 0)),
        ("tuesday 7.30pm", local(2027, 3, 2, 19, 30)),
        ("Tuesday at 7:30 pm", local(2027, 3, 2, 19, 30)),
        ("the 12th of March at 6 p.m.", local(2027, 3, 12, 18, 0)),
        ("tomorrow 12am", local(2027, 3, 2, 0, 0)),
        ("tomorrow 12pm", local(2027, 3, 2, 12, 0)),
        ("Friday 12 March 2027 at 18:00", local(2027, 3, 12, 18, 0)),
    ],
)
def test_accepted_forms(text: str, expected: datetime) -> None:
    assert at(text) == expected


def test_the_result_is_aware_and_in_oslo() -> None:
    result = parse_when("12.03 kl 18", NOW)
    assert isinstance(result, datetime)
    assert result.tzinfo == OSLO
    assert result.astimezone(UTC) == datetime(2027, 3, 12, 17, 0, tzinfo=UTC)


def test_a_date_without_a_year_is_its_next_occurrence() -> None:
    assert at("28.02 kl 18") == local(2028, 2, 28, 18, 0)  # yesterday: next year
    assert at("01.03 kl 11") == local(2027, 3, 1, 11, 0)  # today, still ahead
    assert at("31.12 kl 18") == local(2027, 12, 31, 18, 0)
    assert at("29.02 kl 18") == local(2028, 2, 29, 18, 0)  # the next leap year


def test_a_weekday_alone_is_the_next_such_day() -> None:
    assert at("mandag 11") == local(2027, 3, 1, 11, 0)  # today, the time is still ahead
    assert at("mandag 10") == local(2027, 3, 8, 10, 0)  # exactly now: next week
    assert at("mandag 9") == local(2027, 3, 8, 9, 0)
    assert at("søndag 18") == local(2027, 3, 7, 18, 0)


def test_a_weekday_with_an_ambiguous_number_prefers_the_matching_date() -> None:
    # 16.03.2027 is a Tuesday, so "tirsdag 16.03" is that day (without a time);
    # 12.03 is a Friday, so "tirsdag 12.03" reads as 12:03 on Tuesday.
    assert parse_when("tirsdag 16.03", NOW) == "no_time"
    assert at("tirsdag 12.03") == local(2027, 3, 2, 12, 3)


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("", "not_understood"),
        ("   ", "not_understood"),
        ("banan", "not_understood"),
        ("neste uke en gang", "not_understood"),
        ("12 18", "not_understood"),
        ("12.03 kl 18 kl 19", "not_understood"),
        ("tirsdag onsdag 18", "not_understood"),
        ("12th 18:00", "not_understood"),
        ("kl abc", "not_understood"),
        ("12.03", "no_time"),
        ("12. mars", "no_time"),
        ("tirsdag", "no_time"),
        ("i morgen", "no_time"),
        ("tirsdag kl", "no_time"),
        ("18", "no_date"),
        ("18:00", "no_date"),
        ("kl 18", "no_date"),
        ("19.30", "no_date"),
        ("12.03 kl 24", "bad_time"),
        ("12.03 25:00", "bad_time"),
        ("tirsdag 19.75", "bad_time"),
        ("tirsdag 13pm", "bad_time"),
        ("31.02 kl 18", "bad_date"),
        ("30. februar 18:00", "bad_date"),
        ("29.02.2027 kl 18", "bad_date"),
        ("12.13 kl 18", "bad_date"),
        ("32.01 kl 18", "bad_date"),
        ("onsdag 12. mars 18:00", "weekday_mismatch"),
        ("tirsdag 12.03.2027 18:00", "weekday_mismatch"),
        ("i morgen 12.03 kl 18", "weekday_mismatch"),
        ("i morgen onsdag 18", "weekday_mismatch"),
        ("01.03 kl 9", "past"),  # earlier today
        ("01.03 kl 10", "past"),  # exactly now
        ("i dag 9", "past"),
        ("12.03.2026 18:00", "past"),
        ("01.03.2029 12:00", "too_far"),
        ("01.01.2030 12:00", "too_far"),
    ],
)
def test_refusals(text: str, key: str) -> None:
    assert key in WHEN_ERRORS
    assert parse_when(text, NOW) == key


def test_two_years_ahead_is_the_limit() -> None:
    assert at("01.03.2029 10:00") == local(2029, 3, 1, 10, 0)
    assert parse_when("01.03.2029 10:01", NOW) == "too_far"


# --- daylight saving time in Oslo ----------------------------------------------------------------


def test_winter_and_summer_times_have_the_right_offset() -> None:
    winter = parse_when("12.03 kl 18", NOW)
    summer = parse_when("12.06 kl 18", NOW)
    assert isinstance(winter, datetime)
    assert isinstance(summer, datetime)
    assert winter.utcoffset() == timedelta(hours=1)
    assert summer.utcoffset() == timedelta(hours=2)
    assert summer.astimezone(UTC) == datetime(2027, 6, 12, 16, 0, tzinfo=UTC)


def test_a_weekday_across_the_spring_clock_change_keeps_the_wall_clock_time() -> None:
    friday = datetime(2027, 3, 26, 12, 0, tzinfo=OSLO).timestamp()
    result = parse_when("søndag 18", friday)
    assert isinstance(result, datetime)
    assert result.astimezone(OSLO).replace(tzinfo=None) == local(2027, 3, 28, 18, 0)
    assert result.astimezone(UTC) == datetime(2027, 3, 28, 16, 0, tzinfo=UTC)


def test_a_time_skipped_by_the_spring_clock_change_is_refused() -> None:
    assert parse_when("28.03 02:30", NOW) == "no_such_time"
    assert parse_when("28.03 kl 02", NOW) == "no_such_time"
    assert at("28.03 kl 01.59") == local(2027, 3, 28, 1, 59)
    assert at("28.03 kl 03") == local(2027, 3, 28, 3, 0)


def test_a_time_repeated_by_the_autumn_clock_change_is_the_first_one() -> None:
    result = parse_when("31.10 02:30", NOW)
    assert isinstance(result, datetime)
    assert result.utcoffset() == timedelta(hours=2)  # still summer time
    assert result.astimezone(UTC) == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)


def test_another_time_zone_can_be_asked_for() -> None:
    result = parse_when("12.03 kl 18", NOW, tz="America/New_York")
    assert isinstance(result, datetime)
    assert result.astimezone(UTC) == datetime(2027, 3, 12, 23, 0, tzinfo=UTC)


# --- showing a time ------------------------------------------------------------------------------


def test_format_when_in_both_languages(content: Content) -> None:
    moment = datetime(2027, 3, 16, 18, 0, tzinfo=OSLO)
    assert format_when(moment, "nb", content) == "tirsdag 16. mars 2027 kl. 18.00"
    assert format_when(moment, "en", content) == "Tuesday 16 March 2027 at 18:00"
    summer = datetime(2027, 6, 5, 9, 5, tzinfo=OSLO)
    assert format_when(summer, "nb", content) == "lørdag 5. juni 2027 kl. 09.05"
    assert format_when(summer, "en", content) == "Saturday 5 June 2027 at 09:05"


def test_format_when_shows_oslo_time_whatever_the_input_zone(content: Content) -> None:
    utc = datetime(2027, 6, 12, 16, 0, tzinfo=UTC)
    assert format_when(utc, "nb", content) == "lørdag 12. juni 2027 kl. 18.00"
    stored = int(utc.timestamp())
    assert format_when(from_timestamp(stored), "en", content) == "Saturday 12 June 2027 at 18:00"


def test_every_weekday_month_and_error_has_text(content: Content) -> None:
    for lang in LANGUAGES:
        for day in range(7):
            assert content.has(lang, f"when.weekday.{day}")
        for month in range(1, 13):
            assert content.has(lang, f"when.month.{month}")
        for key in WHEN_ERRORS:
            assert content.text(lang, f"when.error.{key}").strip(), (lang, key)


# Future instants in the allowed window, on whole minutes, away from the ambiguous 02:00-03:00.
future = st.integers(min_value=int(NOW) // 60 + 1, max_value=int(NOW) // 60 + 700 * 24 * 60).map(
    lambda minutes: from_timestamp(minutes * 60)
)


@settings(max_examples=150, deadline=None)
@given(moment=future.filter(lambda m: m.hour != 2), lang=st.sampled_from(LANGUAGES))
def test_what_format_when_writes_parse_when_reads_back(
    content: Content, moment: datetime, lang: str
) -> None:
    assert parse_when(format_when(moment, lang, content), NOW) == moment


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60))
def test_any_text_gives_a_datetime_or_a_known_error(text: str) -> None:
    result = parse_when(text, NOW)
    assert isinstance(result, datetime) or result in WHEN_ERRORS
