"""The date forms people actually type (issue 11): "neste tirsdag kl 19", "halv åtte", the time
before the date, English forms; error examples in the person's language; Norwegian formats.

`now` is fixed at Monday 1 March 2027 10:00 in Oslo (winter time, +01:00).
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.content import load_content
from bot.meetings.when import format_when, parse_when

OSLO = ZoneInfo("Europe/Oslo")
NOW = datetime(2027, 3, 1, 10, 0, tzinfo=OSLO).timestamp()  # a Monday


def at(text: str, now: float = NOW) -> datetime:
    result = parse_when(text, now)
    assert isinstance(result, datetime), (text, result)
    return result.astimezone(OSLO).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "neste" / "next": the first such day after today.
        ("neste tirsdag kl 19", datetime(2027, 3, 2, 19, 0)),
        ("Neste tirsdag kl. 19", datetime(2027, 3, 2, 19, 0)),
        ("førstkommende torsdag 18.30", datetime(2027, 3, 4, 18, 30)),
        ("neste mandag kl 19", datetime(2027, 3, 8, 19, 0)),  # today is Monday: a week on
        ("next Tuesday 7pm", datetime(2027, 3, 2, 19, 0)),
        ("next monday at 18:00", datetime(2027, 3, 8, 18, 0)),
        # Spoken times: read in the daytime and evening.
        ("torsdag kl halv åtte", datetime(2027, 3, 4, 19, 30)),
        ("torsdag halv 8", datetime(2027, 3, 4, 19, 30)),
        ("onsdag kvart over sju", datetime(2027, 3, 3, 19, 15)),
        ("onsdag kvart på åtte", datetime(2027, 3, 3, 19, 45)),
        ("fredag kl ni", datetime(2027, 3, 5, 21, 0)),
        ("fredag kl. ti", datetime(2027, 3, 5, 10, 0)),
        ("12.03 halv atte", datetime(2027, 3, 12, 19, 30)),
        ("onsdag halv 19", datetime(2027, 3, 3, 18, 30)),  # a 24-hour number stays as it is
        # The time first.
        ("kl. 18.30 fredag", datetime(2027, 3, 5, 18, 30)),
        ("18.00 10.12", datetime(2027, 12, 10, 18, 0)),
        ("19.30 12.03", datetime(2027, 3, 12, 19, 30)),
        ("10.12 18.00", datetime(2027, 12, 10, 18, 0)),
        # English forms.
        ("Thursday 19:30", datetime(2027, 3, 4, 19, 30)),
        ("12 March 18:00", datetime(2027, 3, 12, 18, 0)),
        ("March 12 at 6pm", datetime(2027, 3, 12, 18, 0)),
    ],
)
def test_common_forms_are_understood(text: str, expected: datetime) -> None:
    assert at(text) == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("neste uke kl 19", "not_understood"),  # "next week" names no day
        ("neste kl 19", "not_understood"),
        ("torsdag halv", "not_understood"),
        ("18.00", "no_date"),
        ("neste tirsdag", "no_time"),
        ("halv åtte", "no_date"),
    ],
)
def test_what_is_still_refused(text: str, error: str) -> None:
    assert parse_when(text, NOW) == error


def test_error_examples_are_in_the_persons_language() -> None:
    content = load_content()
    for key in ("not_understood", "no_time", "no_date"):
        nb = content.text("nb", f"when.error.{key}")
        en = content.text("en", f"when.error.{key}")
        assert "tirsdag" in nb
        assert "Tuesday" not in nb
        assert "Tuesday" in en
        assert "tirsdag" not in en
        assert "kl " not in en


def test_every_example_in_the_error_messages_is_understood() -> None:
    """An example the bot gives must itself work."""
    content = load_content()
    for lang in ("nb", "en"):
        for key in ("not_understood", "no_time", "no_date"):
            text = content.text(lang, f"when.error.{key}")
            for quoted in _quoted(text):
                assert isinstance(parse_when(quoted, NOW), datetime), (lang, quoted)


def _quoted(text: str) -> list[str]:
    """The examples a message gives: quoted text with a time in it."""
    return [q for q in re.findall(r"[«\"]([^«»\"]+)[»\"]", text) if re.search(r"\d[.:]\d|kl", q)]


def test_norwegian_formats_in_norwegian() -> None:
    content = load_content()
    moment = datetime(2027, 3, 16, 18, 0, tzinfo=OSLO)
    assert format_when(moment, "nb", content) == "tirsdag 16. mars 2027 kl. 18.00"
    assert format_when(moment, "en", content) == "Tuesday 16 March 2027 at 18:00"
