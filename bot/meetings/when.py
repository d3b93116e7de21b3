"""Dates and times as offices type them ("12.03 kl 18", "tirsdag 19.30") -> aware datetimes (pure).

An office announcing a meeting writes the time the way Norwegians write it in a text message, so
the parser accepts the common bokmål, nynorsk and English forms instead of forcing one format.
It never guesses silently where a guess could put a meeting on the wrong day: anything it cannot
read unambiguously is an error key (see `WhenError`), which the caller turns into the message
`when.error.<key>` from flows/<lang>/ui_when.yaml. The office then sees the parsed result in
its preview (written with `format_when`) before anything is sent.

The words people type (weekday and month names, "i morgen", "kl") are module constants rather
than YAML: they are grammar, not user-facing text, and keeping them here keeps this module free
of I/O. The names the bot *shows* come from flows/ (`format_when`).

Rules, in short:
- A time is required: "kl 18" is 18:00; hours 0-23, minutes 0-59; "6pm" and "7.30pm" work too.
  A range ("kl 18-20", "18:00-20:00") is read as its start.
- A date without a year is its next occurrence: this year, or next year when the day has passed.
  If it is today and the time has passed, that is "past" (not a year from now).
- A weekday alone is the next such day: today if the time is still ahead today, else next week.
  "neste tirsdag" / "next Tuesday" is the first Tuesday after today.
- Spoken times: "halv åtte" (19:30), "kvart over sju", "kvart på åtte", "kl ni"; a spoken hour
  is read between 10:00 and 21:59 (see SPOKEN_FROM), and the preview shows the result.
- The time may come first: "kl. 18.30 fredag", "18.00 10.12" (18.00 is no date, so the time).
  A weekday together with a date must agree with it ("weekday_mismatch").
- Results at or before `now`, or more than two years ahead, are refused.
- Daylight saving time (Europe/Oslo): a wall-clock time that does not exist because the clocks
  go forward (e.g. 2027-03-28 02:30) is refused ("no_such_time") rather than moved, since the
  office most likely mistyped. A time that exists twice when the clocks go back
  (2027-10-31 02:30) is the first of the two (summer time, fold=0).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from bot.content import Content

WhenError = Literal[
    "not_understood",  # words or numbers we cannot read
    "no_time",  # a day but no time of day
    "no_date",  # a time of day but no day
    "bad_time",  # hour above 23, minute above 59, "13pm"
    "bad_date",  # a day that does not exist: 31.02, 29.02.2027, month 13
    "weekday_mismatch",  # "onsdag 12. mars" when 12 March is not a Wednesday
    "past",  # at or before now
    "too_far",  # more than MAX_YEARS_AHEAD years ahead
    "no_such_time",  # skipped by the spring clock change (02:00-03:00 on the last Sunday in March)
]
WHEN_ERRORS: tuple[str, ...] = get_args(WhenError)
WhenResult = datetime | WhenError
DEFAULT_TZ = "Europe/Oslo"
MAX_YEARS_AHEAD = 2

# --- vocabulary: what people type ----------------------------------------------------------------

WEEKDAY_WORDS: dict[str, int] = {
    # bokmål, nynorsk (måndag, tysdag, laurdag, sundag), English, common short forms, and ASCII
    # spellings for keyboards without æøå.
    **dict.fromkeys(("mandag", "måndag", "monday", "man", "mån", "mon"), 0),
    **dict.fromkeys(("tirsdag", "tysdag", "tuesday", "tir", "tirs", "tys", "tue", "tues"), 1),
    **dict.fromkeys(("onsdag", "wednesday", "ons", "wed"), 2),
    **dict.fromkeys(("torsdag", "thursday", "tor", "tors", "thu", "thur", "thurs"), 3),
    **dict.fromkeys(("fredag", "friday", "fre", "fri"), 4),
    **dict.fromkeys(("lørdag", "laurdag", "lordag", "saturday", "lør", "lor", "lau", "sat"), 5),
    **dict.fromkeys(("søndag", "sundag", "sondag", "sunday", "søn", "son", "sun"), 6),
}
MONTH_WORDS: dict[str, int] = {
    **dict.fromkeys(("januar", "january", "jan"), 1),
    **dict.fromkeys(("februar", "february", "feb"), 2),
    **dict.fromkeys(("mars", "march", "mar"), 3),
    **dict.fromkeys(("april", "apr"), 4),
    **dict.fromkeys(("mai", "may"), 5),
    **dict.fromkeys(("juni", "june", "jun"), 6),
    **dict.fromkeys(("juli", "july", "jul"), 7),
    **dict.fromkeys(("august", "aug"), 8),
    **dict.fromkeys(("september", "sep", "sept"), 9),
    **dict.fromkeys(("oktober", "october", "okt", "oct"), 10),
    **dict.fromkeys(("november", "nov"), 11),
    **dict.fromkeys(("desember", "december", "des", "dec"), 12),
}
# Days from today; several words long, so they are joined into one token before splitting.
RELATIVE_PHRASES: dict[str, int] = {
    "i dag": 0, "idag": 0, "i kveld": 0, "ikveld": 0, "today": 0, "tonight": 0,
    "i morgen": 1, "imorgen": 1, "i morgon": 1, "imorgon": 1, "tomorrow": 1,
    "i overmorgen": 2, "i overmorgon": 2, "overimorgen": 2,
}  # fmt: skip
CLOCK_WORDS = ("klokken", "klokka", "kl", "at")  # "kl 18", "at 6pm": what follows is a time
# "neste tirsdag", "next Tuesday": the first such day after today (never today itself).
NEXT_WORDS = ("neste", "førstkommende", "forstkommende", "kommende", "next")
# Hours as they are spoken ("halv åtte", "kvart over sju", "kl ni"), bokmål and nynorsk.
HOUR_WORDS: dict[str, int] = {
    **dict.fromkeys(("ett", "eitt", "ei"), 1), "to": 2, "tre": 3, "fire": 4, "fem": 5,
    "seks": 6, **dict.fromkeys(("sju", "syv"), 7), **dict.fromkeys(("åtte", "atte"), 8),
    "ni": 9, "ti": 10, **dict.fromkeys(("elleve", "ellve"), 11), "tolv": 12,
}  # fmt: skip
# A spoken hour (1-12) means the one between SPOKEN_FROM:00 and SPOKEN_FROM+11:59, since
# meetings are held in the daytime and evening: "halv åtte" is 19:30, "kvart over ti" 10:15.
SPOKEN_FROM = 10
FILLER_WORDS = frozenset({"på", "pa", "den", "om", "fra", "on", "the", "of", "from"})

_RELATIVE = re.compile(
    r"(?<!\w)(?:"
    + "|".join(
        r"\s+".join(map(re.escape, phrase.split()))
        for phrase in sorted(RELATIVE_PHRASES, key=len, reverse=True)
    )
    + r")(?!\w)"
)
_NUM = re.compile(r"\d{1,2}")
_ORDINAL = re.compile(r"(\d{1,2})(?:st|nd|rd|th)")
_YEAR = re.compile(r"\d{4}")
_FULL_DATE = re.compile(r"(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_SLASH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})")
_SHORT_DOT_DATE = re.compile(r"(\d{1,2})\.(\d)")  # "12.3": a date, since minutes have two digits
_DOT_PAIR = re.compile(r"(\d{1,2})\.(\d{2})")  # "12.03" or "19.30": date or time, by position
_COLON_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_AMPM_TIME = re.compile(r"(\d{1,2})(?:[.:](\d{2}))?(am|pm)")
_RANGE = re.compile(r"(\d{1,2}(?:[.:]\d{2})?)-\d{1,2}(?:[.:]\d{2})?")
_HOUR = "|".join(sorted(HOUR_WORDS, key=len, reverse=True)) + r"|\d{1,2}"
# "halv åtte", "kvart over 7", "kvart på åtte"; and a spoken hour right after "kl": "kl ni".
_SPOKEN = re.compile(rf"(?<!\w)(halv|kvart\s+over|kvart\s+p[åa])\s+({_HOUR})(?!\w)")
_CLOCK, _HOUR_WORD, _NEXT_WORD = ("|".join(w) for w in (CLOCK_WORDS, HOUR_WORDS, NEXT_WORDS))
_KL_WORD = re.compile(rf"(?<!\w)((?:{_CLOCK})\.?\s+)({_HOUR_WORD})(?!\w)")
_NEXT = re.compile(rf"(?<!\w)(?:{_NEXT_WORD})\s+(?=\w)")


class _Refused(Exception):
    def __init__(self, key: WhenError) -> None:
        super().__init__(key)
        self.key: WhenError = key


@dataclass
class _Parts:
    day: int | None = None
    month: int | None = None
    year: int | None = None
    weekday: int | None = None
    offset: int | None = None  # days from today ("i morgen")
    hour: int | None = None
    minute: int = 0
    after_today: bool = False  # "neste tirsdag": never today

    def has_day(self) -> bool:
        return self.month is not None or self.weekday is not None or self.offset is not None

    def set_date(self, day: int, month: int, year: int | None = None) -> None:
        if self.month is not None:
            raise _Refused("not_understood")  # two dates
        self.day, self.month, self.year = day, month, year

    def set_time(self, hour: int, minute: int, ampm: str | None = None) -> None:
        if self.hour is not None:
            raise _Refused("not_understood")  # two times
        if ampm is not None:
            if not 1 <= hour <= 12:
                raise _Refused("bad_time")
            hour = hour % 12 + (12 if ampm == "pm" else 0)
        if not (0 <= hour <= 23 and 0 <= minute <= 59):
            raise _Refused("bad_time")
        self.hour, self.minute = hour, minute


def _spoken_hour(word: str) -> int:
    """The hour a spoken hour word or number means: 1-12 on the clock face, read between
    SPOKEN_FROM:00 and SPOKEN_FROM+11:59 ("åtte" is 20); a 24-hour number stays as it is."""
    hour = HOUR_WORDS[word] if word in HOUR_WORDS else int(word)
    if not 1 <= hour <= 12:
        return hour
    return hour if hour >= SPOKEN_FROM else hour + 12


def _spoken(m: re.Match[str]) -> str:
    """ "halv åtte" -> " 19:30 ", "kvart over sju" -> " 19:15 ", "kvart på åtte" -> " 19:45 "."""
    how, hour = " ".join(m.group(1).split()), _spoken_hour(m.group(2))
    if how == "kvart over":
        hour, minute = hour, 15
    else:  # half or a quarter to the hour named
        hour, minute = (hour - 1) % 24, 30 if how == "halv" else 45
    return f" {hour}:{minute:02d} " if 0 <= hour <= 23 else f" {hour}:99 "  # bad_time later


def _normalise(text: str) -> list[str]:
    """Lower-case tokens with multi-word phrases joined and punctuation around tokens removed."""
    s = unicodedata.normalize("NFKC", text).lower().replace("@", " at ")
    s = _SPOKEN.sub(_spoken, s)
    s = _KL_WORD.sub(lambda m: f"{m.group(1)}{_spoken_hour(m.group(2))}:00", s)
    s = _NEXT.sub(" @next ", s)
    s = s.replace("\u2013", "-").replace("\u2014", "-")  # en and em dashes
    s = re.sub(r"\s*-\s*", "-", s)  # "18 - 20" -> "18-20"
    s = _RELATIVE.sub(lambda m: f" @{RELATIVE_PHRASES[' '.join(m.group(0).split())]} ", s)
    s = re.sub(r"(?<!\w)([ap])\.\s?m(?:\.|(?!\w))", r"\1m", s)  # "p.m." -> "pm"
    s = re.sub(r"(?<!\w)(\d{1,2}(?:[.:]\d{2})?)\s+(am|pm)(?!\w)", r"\1\2", s)  # "6 pm" -> "6pm"
    clock = "|".join(CLOCK_WORDS)
    s = re.sub(rf"(?<!\w)(?:{clock})\.?(?=\s|\d|$)", " @kl ", s)  # also "kl18", "kl.18"
    s = re.sub(r"(\d)\.(?=[^\W\d_])", r"\1. ", s)  # "12.mars" -> "12. mars"
    tokens = []
    for raw in re.split(r"[\s,;]+", s):
        token = raw.strip(".!?()[]'\"«»")
        if token and token not in FILLER_WORDS:
            tokens.append(token)
    return tokens


def _day_number(token: str) -> int | None:
    """12 for "12" or "12th" (the dot of "12." is already gone)."""
    m = _NUM.fullmatch(token) or _ORDINAL.fullmatch(token)
    return int(m.group(1) if m.lastindex else m.group(0)) if m else None


def _time_of(token: str) -> tuple[int, int, str | None] | None:
    """(hour, minute, am/pm) if `token` can be a time of day, else None."""
    if m := _RANGE.fullmatch(token):
        token = m.group(1)
    if m := _AMPM_TIME.fullmatch(token):
        return int(m.group(1)), int(m.group(2) or 0), m.group(3)
    if m := (_COLON_TIME.fullmatch(token) or _DOT_PAIR.fullmatch(token)):
        return int(m.group(1)), int(m.group(2)), None
    if _NUM.fullmatch(token):
        return int(token), 0, None
    return None


def _is_sure_time(token: str) -> bool:
    """A token that can only be a time: "18:00", "6pm", "18.00-20.00"."""
    if _COLON_TIME.fullmatch(token) or _AMPM_TIME.fullmatch(token):
        return True
    m = _RANGE.fullmatch(token)
    return bool(m) and all(re.search(r"[.:]", side) for side in token.split("-"))


def _weekday_date(token: str, weekday: int | None, today: date) -> bool:
    """Whether "tirsdag 16.03" means 16 March (a Tuesday) rather than 16:03: only when the
    date's next occurrence falls on that weekday."""
    m = _DOT_PAIR.fullmatch(token)
    if weekday is None or not m or not _valid(int(m.group(1)), int(m.group(2))):
        return False
    day = _next_occurrence(int(m.group(1)), int(m.group(2)), today)
    return day.weekday() == weekday


def _read(tokens: list[str], today: date) -> _Parts:
    """Assign every token a role (date, time, weekday, ...) or refuse the text."""
    parts = _Parts()
    used = [False] * len(tokens)

    def free(i: int) -> bool:
        return 0 <= i < len(tokens) and not used[i]

    def take_year(i: int) -> None:
        if free(i) and _YEAR.fullmatch(tokens[i]):
            parts.year = int(tokens[i])
            used[i] = True

    # 1. Words: weekdays, "i morgen", and "kl" with the time that follows it.
    for i, token in enumerate(tokens):
        if token.startswith("@") and token[1:].isdigit():
            if parts.offset is not None:
                raise _Refused("not_understood")
            parts.offset, used[i] = int(token[1:]), True
        elif token == "@next":
            if not free(i + 1) or tokens[i + 1] not in WEEKDAY_WORDS:
                raise _Refused("not_understood")  # "neste uke" is no day
            parts.after_today, used[i] = True, True
        elif token in WEEKDAY_WORDS:
            if parts.weekday is not None:
                raise _Refused("not_understood")
            parts.weekday, used[i] = WEEKDAY_WORDS[token], True
        elif token == "@kl":
            used[i] = True
            if not free(i + 1):
                raise _Refused("no_time")
            clock = _time_of(tokens[i + 1])
            if clock is None:
                raise _Refused("not_understood")
            parts.set_time(*clock)
            used[i + 1] = True
    # 2. Month names bind the number before them ("12. mars") or, in English, after ("March 12").
    for i, token in enumerate(tokens):
        if token not in MONTH_WORDS:
            continue
        used[i] = True
        days = [j for j in (i - 1, i + 1) if free(j) and _day_number(tokens[j]) is not None]
        if not days:
            raise _Refused("not_understood")
        day_at = days[0]
        parts.set_date(_day_number(tokens[day_at]) or 0, MONTH_WORDS[token])
        used[day_at] = True
        take_year(max(i, day_at) + 1)
    # 3. Numbers that can only be a date, or only a time.
    for i, token in enumerate(tokens):
        if not free(i):
            continue
        if m := _ISO_DATE.fullmatch(token):
            parts.set_date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        elif m := _FULL_DATE.fullmatch(token):
            year = int(m.group(3))
            parts.set_date(int(m.group(1)), int(m.group(2)), year + 2000 if year < 100 else year)
        elif m := (_SLASH_DATE.fullmatch(token) or _SHORT_DOT_DATE.fullmatch(token)):
            parts.set_date(int(m.group(1)), int(m.group(2)))
            take_year(i + 1)
        elif _is_sure_time(token):
            clock = _time_of(token)
            assert clock is not None
            parts.set_time(*clock)
        elif _ORDINAL.fullmatch(token):
            raise _Refused("not_understood")  # "12th" without a month
        else:
            continue
        used[i] = True
    # 4. What is left ("12.03", "19.30", "18"): the last one is the time if a day is known
    # otherwise or another number precedes it; a remaining "dd.mm" is the date.
    left = [i for i in range(len(tokens)) if free(i) and _time_of(tokens[i])]
    if parts.hour is None and left and (parts.has_day() or len(left) > 1):
        last = left[-1]
        if len(left) == 2 and _time_first(tokens[left[0]], tokens[last]):
            last = left[0]  # "18.00 10.12": the time before the date
        clock = _time_of(tokens[last])
        if not (len(left) == 1 and _weekday_date(tokens[last], parts.weekday, today)):
            assert clock is not None
            parts.set_time(*clock)
            used[last] = True
            left.remove(last)
    if left and parts.month is None and (m := _DOT_PAIR.fullmatch(tokens[left[0]])):
        day, month = int(m.group(1)), int(m.group(2))
        clock = _time_of(tokens[left[0]])
        if not _valid(day, month) and not parts.has_day() and parts.hour is None and clock:
            raise _Refused("no_date" if clock[0] <= 23 else "bad_date")  # "19.30" alone
        parts.set_date(day, month)
        used[left[0]] = True
        take_year(left[0] + 1)
    if not all(used):
        if len(tokens) == 1 and _NUM.fullmatch(tokens[0]):
            raise _Refused("no_date")  # "18" alone
        raise _Refused("not_understood")
    return parts


def _time_first(first: str, second: str) -> bool:
    """Whether "18.00 10.12" puts the time first: the first pair is no date, the second is."""
    a, b = _DOT_PAIR.fullmatch(first), _DOT_PAIR.fullmatch(second)
    if not (a and b) or _valid(int(a.group(1)), int(a.group(2))):
        return False
    return _valid(int(b.group(1)), int(b.group(2))) and _time_of(first) is not None


def _valid(day: int, month: int) -> bool:
    """Whether day.month exists in some year (29.02 does)."""
    try:
        date(2000, month, day)
    except ValueError:
        return False
    return True


def _next_occurrence(day: int, month: int, today: date) -> date:
    """The first day.month on or after today (29.02: the next leap year's)."""
    for year in range(today.year, today.year + 8):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    raise _Refused("bad_date")  # unreachable for a `_valid` day


def _plus_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def _day_of(parts: _Parts, today: date, clock: time, now_local: datetime) -> date:
    """The calendar day `parts` names, as seen from `today`."""
    chosen: date | None = None
    if parts.month is not None:
        assert parts.day is not None
        if not _valid(parts.day, parts.month):
            raise _Refused("bad_date")
        if parts.year is not None:
            try:
                chosen = date(parts.year, parts.month, parts.day)
            except ValueError:
                raise _Refused("bad_date") from None
        else:
            chosen = _next_occurrence(parts.day, parts.month, today)
    if parts.offset is not None:
        relative = today + timedelta(days=parts.offset)
        if chosen is not None and chosen != relative:
            raise _Refused("weekday_mismatch")
        chosen = relative
    if parts.weekday is not None:
        if chosen is not None:
            if chosen.weekday() != parts.weekday:
                raise _Refused("weekday_mismatch")
        else:
            chosen = today + timedelta(days=(parts.weekday - today.weekday()) % 7)
            if chosen == today and (parts.after_today or clock <= now_local.time()):
                chosen += timedelta(days=7)
    if chosen is None:
        raise _Refused("no_date")
    return chosen


def parse_when(text: str, now: float, tz: str = DEFAULT_TZ) -> WhenResult:
    """The moment `text` names, as an aware datetime in `tz`, or an error key (`WhenError`)."""
    zone = ZoneInfo(tz)
    try:
        tokens = _normalise(text)
        if not tokens:
            raise _Refused("not_understood")
        now_local = datetime.fromtimestamp(now, zone)
        parts = _read(tokens, now_local.date())
        if parts.hour is None:
            raise _Refused("no_time" if parts.has_day() else "not_understood")
        clock = time(parts.hour, parts.minute)
        day = _day_of(parts, now_local.date(), clock, now_local)
    except _Refused as refused:
        return refused.key
    wall = datetime.combine(day, clock)
    moment = wall.replace(tzinfo=zone)  # fold=0: the first of two equal times in autumn
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        return "no_such_time"
    if moment.timestamp() <= now:
        return "past"
    if moment > _plus_years(now_local, MAX_YEARS_AHEAD):
        return "too_far"
    return moment


def from_timestamp(ts: float, tz: str = DEFAULT_TZ) -> datetime:
    """A stored unix time (e.g. Meeting.starts_at) as local wall-clock time."""
    return datetime.fromtimestamp(ts, ZoneInfo(tz))


def format_when(dt: datetime, lang: str, content: Content, tz: str = DEFAULT_TZ) -> str:
    """ "tirsdag 16. mars 2027 kl. 18.00" / "Tuesday 16 March 2027 at 18:00", names from flows/,
    so the output never depends on the machine's locale."""
    local = dt.astimezone(ZoneInfo(tz))
    return content.text(
        lang,
        "when.format",
        weekday=content.text(lang, f"when.weekday.{local.weekday()}"),
        day=local.day,
        month=content.text(lang, f"when.month.{local.month}"),
        year=local.year,
        time=f"{local.hour:02d}:{local.minute:02d}",
        hour=local.hour,
        minute=local.minute,
    )
