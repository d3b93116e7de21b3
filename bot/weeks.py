"""Calendar arithmetic in the deployment's time zone (pure). Time itself is injected as a
`Callable[[], float]` returning unix seconds, so tests move it by hand."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import WEEKDAYS, Config

FIRST_MONDAY = date(1970, 1, 5)
DAY = 86400


def local_date(ts: float, tz: str) -> date:
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).date()


def week_index(ts: float, tz: str) -> int:
    """Weeks since Monday 1970-01-05 in local time: Monday to Sunday share one index."""
    return (local_date(ts, tz) - FIRST_MONDAY).days // 7


def week_monday(week: int) -> date:
    return FIRST_MONDAY + timedelta(weeks=week)


def digest_moment(week: int, config: Config) -> float:
    """Unix time of the configured weekly digest (weekday and HH:MM, local) in `week`."""
    day = week_monday(week) + timedelta(days=WEEKDAYS.index(config.digest_weekday))
    hour, minute = (int(x) for x in config.digest_time.split(":"))
    moment = datetime.combine(day, time(hour, minute), ZoneInfo(config.timezone))
    return moment.timestamp()


def iso_week_label(week: int) -> str:
    """'2026-W47' style label for people."""
    year, number, _ = week_monday(week).isocalendar()
    return f"{year}-W{number:02d}"
