"""Poster-link starts count people, not presses, and never role holders (bot/poster/link_stats.py,
bot/digest/figures.py rule 7 on poster links; issue 10 item 12, script 18).

A person's repeated /start with one poster link in a week counts once; coordinators, offices
and admins (config.yaml or granted) never count; what tells repeats apart is only a keyed hash
under a random weekly key held in memory, deleted when the week is over.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.digest.figures import iso_week_number
from bot.poster import link_stats
from bot.security.pseudonyms import WeeklyTagger
from bot.services import Services
from bot.storage import RoleGrant
from bot.weeks import DAY, week_index
from tests.support import PersonFactory

T0 = 1_795_000_000.0  # Thursday 19.11.2026 in Oslo
WEEK = week_index(T0, "Europe/Oslo")
ADMIN = 100000001
LYNGEN_COORDINATOR = 100000002
NORD_NORGE_OFFICE = 100000004
LYNGEN = ("nord-norge", "Lyngen")


@pytest.fixture
def now() -> list[float]:
    return [T0]


def rows(database: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as conn:
        return conn.execute(sql).fetchall()


async def test_repeated_starts_in_a_week_count_once(
    person_factory: PersonFactory, services: Services, now: list[float]
) -> None:
    person = person_factory(user_id=5001)
    for payload in ("lyngen", "lyngen", "lyngen_en", "lyngen_nb", "lyngen"):
        await person.say(f"/start {payload}")  # the language does not make it another place
    await person.say("/start alta")  # another place: counted there
    await person_factory(user_id=5002).say("/start lyngen")
    assert await services.storage.link_starts(WEEK) == {LYNGEN: 2, ("nord-norge", "Alta"): 1}
    now[0] += 7 * DAY  # a new week: the same person counts again, once
    for _ in range(3):
        await person.say("/start lyngen")
    assert await services.storage.link_starts(WEEK + 1) == {LYNGEN: 1}
    assert await services.storage.link_starts(WEEK) == {LYNGEN: 2, ("nord-norge", "Alta"): 1}


@pytest.mark.parametrize("user_id", [ADMIN, LYNGEN_COORDINATOR, NORD_NORGE_OFFICE])
async def test_role_holders_from_config_never_count(
    person_factory: PersonFactory, services: Services, user_id: int
) -> None:
    person = person_factory(user_id=user_id)
    for payload in ("lyngen", "alta", "lyngen_en"):
        turn = await person.say(f"/start {payload}")
        assert "Lyngen" in turn.text or "Alta" in turn.text  # the welcome is the same
    assert await services.storage.link_starts(WEEK) == {}


@pytest.mark.parametrize(("role", "scope"), [("coordinator", "Alta"), ("office", "innlandet")])
async def test_granted_roles_never_count(
    person_factory: PersonFactory, services: Services, role: str, scope: str
) -> None:
    """A role anywhere is enough: a coordinator of Alta padding Lyngen's figure is refused too."""
    key = services.user_key(8001)
    await services.storage.grant_role(RoleGrant(key, role, scope, b"chat", int(T0)))
    await person_factory(user_id=8001).say("/start lyngen")
    assert await services.storage.link_starts(WEEK) == {}
    await services.storage.revoke_role(key, role, scope)
    await person_factory(user_id=8001).say("/start lyngen")  # a resident again: counts
    assert await services.storage.link_starts(WEEK) == {LYNGEN: 1}


async def test_one_account_cannot_pad_the_digest_figure(
    person_factory: PersonFactory, now: list[float]
) -> None:
    """Script 18: the coordinator's own presses and one resident's repeats leave "fewer than
    3" standing (rule 1 still applies to the figure)."""
    coordinator = person_factory(user_id=LYNGEN_COORDINATOR)
    helper = person_factory(user_id=5003)  # one more account of theirs
    for _ in range(3):
        await coordinator.say("/start lyngen")
        await helper.say("/start lyngen")
    await person_factory(user_id=5004).say("/start lyngen")  # one real start
    now[0] += 7 * DAY
    text = (await coordinator.say("/digest")).text
    assert f"Starter fra plakat-lenken, uke {iso_week_number(WEEK)}: færre enn 3" in text


async def test_only_a_weekly_tag_is_kept_and_it_goes_with_the_week(
    person_factory: PersonFactory, services: Services, database: Path, now: list[float]
) -> None:
    user_id = 987654321
    await person_factory(user_id=user_id).say("/start lyngen")
    seen = rows(database, "SELECT tag, week FROM link_start_seen")
    assert len(seen) == 1
    tag, week = seen[0]
    assert week == WEEK
    key = services.user_key(user_id)
    assert key not in str(tag)
    assert str(user_id) not in str(tag)
    # The key is random and in memory only: the secret key does not reproduce the tag.
    assert WeeklyTagger().tag(WEEK, key, *LYNGEN) != tag
    assert services.tagger.tag(WEEK, key, "nord-norge", "Lyngen") == tag
    for path in database.parent.iterdir():
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path.name

    # The week is over: the next start (or the scheduler's purge) deletes last week's tags.
    now[0] += 7 * DAY
    await person_factory(user_id=5005).say("/start alta")
    assert rows(database, "SELECT week FROM link_start_seen") == [(WEEK + 1,)]
    now[0] += 7 * DAY
    assert await link_stats.purge_old_tags(services) == 1
    assert rows(database, "SELECT COUNT(*) FROM link_start_seen") == [(0,)]


def test_a_new_week_gets_a_new_key() -> None:
    tagger = WeeklyTagger()
    first = tagger.tag(WEEK, "k", "r", "m")
    assert tagger.tag(WEEK, "k", "r", "m") == first
    assert tagger.tag(WEEK, "k", "r", "other") != first
    assert tagger.tag(WEEK + 1, "k", "r", "m") != first
    assert tagger.tag(WEEK, "k", "r", "m") != first  # the old week's key is gone for good
