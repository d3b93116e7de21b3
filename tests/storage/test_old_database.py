"""A database made by the code of 2026-12-02 (before storage was split by aggregate) still works:
tests/data/db_2026-12-02.sqlite3, made by tests/data/make_old_database.py with every kind of row
in it (tests/data/db_2026-12-02.json says with which commit, and what it holds), is opened with
today's code and people use the bot on it as they did the day it was made."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.offline.fake_bot_api import FakeTelegram
from bot.outbox.progress import report_progress
from bot.outbox.sender import Sender
from bot.services import Services
from bot.storage import MIGRATIONS
from tests.support import App, PacingClock, PersonFactory, load_repo_config

DATA = Path(__file__).resolve().parent.parent / "data"
FIXTURE = DATA / "db_2026-12-02.sqlite3"
MANIFEST: dict[str, Any] = json.loads((DATA / "db_2026-12-02.json").read_text("utf-8"))
PEOPLE: dict[str, Any] = MANIFEST["people"]
DAY = 24 * 3600.0


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """The repository's config with the fixture's (test-only) key: its user keys and chats."""
    return dataclasses.replace(load_repo_config(tmp_path), secret_key=MANIFEST["secret_key"])


@pytest.fixture
def database(tmp_path: Path) -> Path:
    copy = tmp_path / "old.sqlite3"
    shutil.copyfile(FIXTURE, copy)
    copy.chmod(0o600)
    return copy


@pytest.fixture
def now() -> list[float]:
    """The day after the database was made: figures count the registrations it holds."""
    return [float(MANIFEST["clock"]) + DAY]


def ui(services: Services, key: str, lang: str = "nb", **values: object) -> str:
    return services.content.text(lang, key, **values)


async def deliver(services: Services, app: App) -> None:
    """Send the outbox as the running bot does (progress wired like bot/scheduler.py)."""

    async def progress(campaign: str, counts: dict[str, int]) -> None:
        await report_progress(app.bot, services, campaign, counts)

    clock = PacingClock()
    sender = Sender(services, on_progress=progress, sleep=clock.sleep, timer=clock)
    await sender.run_until_idle(app.bot, timeout=120)


def test_the_fixture_holds_every_kind_of_row() -> None:
    assert MANIFEST["schema_version"] <= len(MIGRATIONS)
    with contextlib.closing(sqlite3.connect(f"{FIXTURE.as_uri()}?mode=ro", uri=True)) as conn:
        tables = {
            str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        empty = [t for t in sorted(tables) if not conn.execute(f"SELECT 1 FROM {t}").fetchone()]
        statuses = {str(r[0]) for r in conn.execute("SELECT DISTINCT status FROM outbox")}
    assert tables == set(MANIFEST["rows"])
    assert empty == []
    assert {"pending", "sent"} <= statuses


async def test_it_opens_at_the_current_schema_version_with_its_rows(
    services: Services,
) -> None:
    assert await services.storage.schema_version() == len(MIGRATIONS)
    english = services.user_key(PEOPLE["english"])
    assert await services.storage.get_language(english) == "en"
    mid_form = services.user_key(PEOPLE["mid_form"])
    assert services.storage.flow_name(mid_form) == "interest"


async def test_a_resident_sees_the_registration_in_mine_and_withdraws_it(
    services: Services, person_factory: PersonFactory
) -> None:
    person = person_factory(user_id=PEOPLE["registered"][0])
    key = services.user_key(person.user_id)
    mine = (await person.say("/mine")).first
    assert "Lyngen" in mine.text
    ask = (await person.press_label(mine, "Trekk tilbake")).first
    assert ask.text == ui(services, "mine.withdraw_ask")
    done = (await person.press_label(ask, "Ja, trekk den tilbake")).first
    assert done.text == ui(services, "mine.withdrawn")
    assert await services.storage.get_registration(key) is None
    assert (await person.say("/mine")).first.text != mine.text


async def test_a_coordinators_digest_shows_their_municipality(
    services: Services, person_factory: PersonFactory
) -> None:
    coordinator = person_factory(user_id=PEOPLE["coordinator"])
    turn = await coordinator.say("/digest")
    assert "📍 Lyngen" in turn.text
    # Registered before midnight: the four still waiting (the fifth withdrew).
    assert ui(services, "digest.waiting", count=4) in turn.text
    assert "Alta" not in turn.text


async def test_the_office_lists_the_meeting_with_its_counts(
    services: Services, person_factory: PersonFactory
) -> None:
    office = person_factory(user_id=PEOPLE["office"])
    listing = (await office.say("/announce list")).last
    assert listing.text.startswith(ui(services, "announce.list_heading"))
    assert MANIFEST["meeting_title"] in listing.text
    assert len(listing.button_texts) == 2  # change, cancel


async def test_pending_outbox_rows_are_sent_and_answers_still_count(
    app: App, services: Services, fake: FakeTelegram
) -> None:
    invitations = await services.storage.invitations_by(services.user_key(PEOPLE["coordinator"]))
    pending = max(inv.id for inv in invitations)
    assert (await services.storage.campaign_progress(f"invitation:{pending}"))["pending"] == 4
    since = len(fake.sent)
    await deliver(services, app)
    reached = {
        s.chat_id
        for s in fake.sent[since:]
        if s.method == "sendMessage" and MANIFEST["invitation_texts"][1] in s.text
    }
    assert reached == set(PEOPLE["registered"])
    progress = await services.storage.campaign_progress(f"invitation:{pending}")
    assert progress["pending"] == 0
    assert progress["sent"] == 4
    # The first invitation's answers: two live ones, and the withdrawn resident's as a count.
    first = min(inv.id for inv in invitations)
    counts = await services.storage.invitation_counts(first)
    assert counts == {"yes": 1, "maybe": 1, "no": 1, "shared": 1}


async def test_forget_on_the_old_database_erases_the_person_everywhere(
    services: Services, person_factory: PersonFactory, database: Path
) -> None:
    resident = person_factory(user_id=PEOPLE["registered"][1])  # coming mark, remind, answer
    key = services.user_key(resident.user_id)
    removed = await services.storage.forget_resident(key)
    assert removed > 0
    with contextlib.closing(sqlite3.connect(database)) as conn:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            columns = [str(c[1]) for c in conn.execute(f"PRAGMA table_info({table})")]
            for column in columns:
                hit = conn.execute(f"SELECT 1 FROM {table} WHERE {column} = ?", (key,)).fetchone()
                assert hit is None, (table, column)
