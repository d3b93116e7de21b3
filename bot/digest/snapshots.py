"""The day's fixed figures (domain, no Telegram): everything a coordinator, office or admin is
shown about places is read from one snapshot per day, never from live rows.

Why (docs/THREAT_MODEL.md): live figures let a role holder time one registration (two /digest
calls minutes apart), and probe a single person's answers by trying audiences and previews.
A snapshot is taken once per day, on the first scheduler tick or the first view after the day
begins (local time), and then never changes that day. It counts only registrations made
before the day began, so whether someone registered today can never be seen today, however
often anyone looks. Registrations by people who hold a role are left out: a coordinator cannot
pad a small figure with their own registration.

What a snapshot holds: per place, counts per kind of group and time of day (aggregates; no
user key, no contact choice, no time of any single registration), how many have waited longer
than LONG_WAIT_WEEKS, the weekly tallies the trend is derived from, and the reported week's
poster-link starts. Only today's snapshot is kept: a person who uses /forget today is still in
today's counts until midnight (a figure must not change within the day), never longer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from bot.digest.figures import TREND_WEEKS, Place, PlaceCounts, count_places
from bot.roles.lookup import config_role_ids
from bot.services import Services
from bot.storage import EventTally, RegistrationCell
from bot.weeks import DAY, local_date, week_index

SNAPSHOT_KEEP_DAYS = 0  # only today's: yesterday's cells would outlive a /forget
LONG_WAIT_WEEKS = 8
EPOCH_DAY = local_date(0, "UTC").toordinal()  # day 0 = 1970-01-01


@dataclass(frozen=True)
class Snapshot:
    week: int  # the week the day falls in; digests report on week - 1
    counts: dict[Place, PlaceCounts]
    link_starts: dict[Place, int]


def day_index(ts: float, tz: str) -> int:
    """Days since 1970-01-01 in local time."""
    return local_date(ts, tz).toordinal() - EPOCH_DAY


def day_start(day: int, tz: str) -> float:
    """Unix time of local midnight at the start of `day`."""
    d = datetime.fromordinal(day + EPOCH_DAY).date()
    return datetime.combine(d, time(0, 0), ZoneInfo(tz)).timestamp()


async def role_holder_keys(services: Services) -> set[str]:
    """User keys of everyone who holds a role (config.yaml or an invite link)."""
    keys = {services.user_key(i) for i in config_role_ids(services.config)}
    keys.update(g.user_key for g in await services.storage.all_roles())
    return keys


async def _take(services: Services, day: int) -> dict[str, Any]:
    tz = services.config.timezone
    start = day_start(day, tz)
    week = week_index(start, tz)
    storage = services.storage
    cells = await storage.registration_cells(
        before=int(start),
        exclude=await role_holder_keys(services),
        long_before=int(start - LONG_WAIT_WEEKS * 7 * DAY),
    )
    await storage.purge_tallies(week - TREND_WEEKS)
    tallies = await storage.tallies_since(week - TREND_WEEKS)
    links = await storage.link_starts(week - 1)
    return {
        "week": week,
        # No contact choice: it is never shown, so the query does not even group by it.
        "cells": [
            [c.region_id, c.municipality, c.group_kind, c.time_pref, c.n, c.n_long] for c in cells
        ],
        "tallies": [[t.region_id, t.municipality, t.week, t.kind, t.n] for t in tallies],
        "links": [[r, m, n] for (r, m), n in links.items()],
    }


def _parse(raw: str) -> Snapshot:
    data = json.loads(raw)
    cells = [
        RegistrationCell(str(r), str(m), str(k), str(t), int(n), int(n_long))
        for r, m, k, t, n, n_long in data["cells"]
    ]
    tallies = [
        EventTally(str(m), str(r), int(w), str(k), int(n)) for r, m, w, k, n in data["tallies"]
    ]
    links = {(str(r), str(m)): int(n) for r, m, n in data["links"]}
    return Snapshot(int(data["week"]), count_places(cells, tallies), links)


async def _today_raw(services: Services) -> str:
    """Today's snapshot as stored, taken now if this is the day's first look."""
    day = day_index(services.now(), services.config.timezone)
    raw = await services.storage.get_snapshot(day)
    if raw is None:
        taken = json.dumps(await _take(services, day), separators=(",", ":"))
        raw = await services.storage.save_snapshot(day, taken, SNAPSHOT_KEEP_DAYS)
    return raw


async def take_if_due(services: Services) -> None:
    """Take today's snapshot if nobody has yet (each scheduler tick; nothing is parsed)."""
    await _today_raw(services)


async def today(services: Services) -> Snapshot:
    """Today's snapshot, taken now if this is the day's first look."""
    return _parse(await _today_raw(services))
