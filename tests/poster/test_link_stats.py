"""Link statistics: /start with a municipality's poster link is tallied per place and week (never
who), unknown or tampered payloads give the normal welcome and count nothing, and digests show
the reported week's starts with small-count suppression (bot/digest/figures.py, rule 8)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.config import Config
from bot.content import Content
from bot.digest.figures import DigestData, digest_sections, iso_week_number
from bot.roles.lookup import Roles
from bot.services import Services
from bot.weeks import DAY, week_index
from tests.support import PersonFactory

T0 = 1_795_000_000.0  # Thursday 19.11.2026 in Oslo
WEEK = week_index(T0, "Europe/Oslo")
LYNGEN_COORDINATOR = 100000002
NORD_NORGE_OFFICE = 100000004
ADMIN = 100000001
TAMPERED = [
    "atlantis",  # no such code
    "lyngen_xx",  # no such language
    "lyngen_nb_nb",
    "LYNGEN",
    "lyngen%20",
    "lyngen;drop",
    "l" * 80,
    "alta_nb~tag",
    "_nb",  # a language without a place
]


@pytest.fixture
def now() -> list[float]:
    """The injected clock: tests move it by changing now[0]."""
    return [T0]


def ui(services: Services, lang: str, key: str, **values: object) -> str:
    return services.content.text(lang, key, **values)


# --- recording -------------------------------------------------------------------------------


async def test_a_link_start_is_counted_for_its_place_and_week(
    person_factory: PersonFactory, services: Services, now: list[float]
) -> None:
    person = person_factory()
    turn = await person.say("/start lyngen_en")
    # The payload's language wins over the person's Telegram language.
    welcome = ui(services, "en", "start.welcome")
    assert turn.texts == [
        welcome + "\n\n" + ui(services, "en", "start.from_place", municipality="Lyngen")
    ]
    await person.say("/start lyngen")  # the same person again: once a week (test_poster_dedup)
    await person_factory(user_id=2002).say("/start alta")
    await person_factory(user_id=2003).say("/start lyngen")
    now[0] += 7 * DAY
    await person.say("/start lyngen")
    storage = services.storage
    assert await storage.link_starts(WEEK) == {
        ("nord-norge", "Lyngen"): 2,
        ("nord-norge", "Alta"): 1,
    }
    assert await storage.link_starts(WEEK + 1) == {("nord-norge", "Lyngen"): 1}


@pytest.mark.parametrize("payload", TAMPERED)
async def test_an_unknown_or_tampered_payload_gives_the_normal_welcome(
    person_factory: PersonFactory, services: Services, payload: str
) -> None:
    turn = await person_factory().say(f"/start {payload}")
    assert turn.texts == [ui(services, "nb", "start.welcome")]
    assert await services.storage.link_starts(WEEK) == {}


async def test_the_tally_holds_no_one(
    person_factory: PersonFactory, services: Services, database: Path
) -> None:
    """Only place, week and a number: no user key, Telegram id or chat id."""
    person = person_factory(user_id=987654321)
    await person.say("/start lyngen")
    user_key = services.user_key(987654321)
    with sqlite3.connect(database) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(link_starts)")]
        rows = conn.execute("SELECT * FROM link_starts").fetchall()
    assert columns == ["municipality", "region_id", "week", "n"]
    assert rows == [("Lyngen", "nord-norge", WEEK, 1)]
    assert user_key not in repr(rows)
    assert "987654321" not in repr(rows)


# --- in the digest ---------------------------------------------------------------------------


def digest_text(content: Content, config: Config, roles: Roles, starts: dict[str, int]) -> str:
    links = {
        (m.region_id, m.name): starts[m.name] for m in config.municipalities if m.name in starts
    }
    data = DigestData({}, frozenset({"Lyngen", "Alta"}), WEEK + 1, links)
    return "\n\n".join(digest_sections(content, config, "nb", data, roles))


def test_the_digest_shows_link_starts_with_small_counts_suppressed(
    config: Config, content: Content
) -> None:
    week = iso_week_number(WEEK)
    starts = {"Lyngen": 2, "Alta": 4, "Lillehammer": 1}

    coordinator = digest_text(content, config, Roles(municipalities=frozenset({"Lyngen"})), starts)
    assert f"Starter fra plakat-lenken, uke {week}: færre enn 3" in coordinator
    assert "Alta" not in coordinator
    assert content.text("nb", "digest.links_note") in coordinator

    office = digest_text(content, config, Roles(regions=frozenset({"nord-norge"})), starts)
    assert f"📮 Plakat-lenker, uke {week}\n• Lyngen: færre enn 3\n• Alta: 4\n" in office
    assert "Lillehammer" not in office

    admin = digest_text(content, config, Roles(admin=True), starts)
    assert "• Lyngen: færre enn 3\n• Alta: 4\n• Lillehammer: færre enn 3\n" in admin

    quiet = digest_text(content, config, Roles(municipalities=frozenset({"Lyngen"})), {})
    assert f"Starter fra plakat-lenken, uke {week}: 0" in quiet
    nobody = digest_text(content, config, Roles(regions=frozenset({"nord-norge"})), {})
    assert content.text("nb", "digest.links_none") in nobody


async def test_digest_reports_the_last_full_week_of_link_starts(
    person_factory: PersonFactory, now: list[float]
) -> None:
    """Three starts from the Lyngen link and one from Alta's in one week; the next week's
    /digest shows Lyngen exactly and Alta as fewer than 3. Starts in the running week wait for
    the next digest, so watching /digest does not time one person's scan."""
    for user_id, payload in [(1, "lyngen"), (2, "lyngen_en"), (3, "lyngen_nb"), (4, "alta")]:
        await person_factory(user_id=user_id).say(f"/start {payload}")
    for payload in TAMPERED[:3]:
        await person_factory(user_id=5).say(f"/start {payload}")
    now[0] += 7 * DAY
    await person_factory(user_id=6).say("/start lyngen")  # this week: not in today's digest
    week = iso_week_number(WEEK)

    coordinator = person_factory(user_id=LYNGEN_COORDINATOR)
    text = (await coordinator.say("/digest")).text
    assert f"Starter fra plakat-lenken, uke {week}: 3" in text
    assert "Alta" not in text

    office = person_factory(user_id=NORD_NORGE_OFFICE, language_code="en")
    text = (await office.say("/digest")).text
    assert f"📮 Poster links, week {week}\n• Lyngen: 3\n• Alta: fewer than 3\n" in text
