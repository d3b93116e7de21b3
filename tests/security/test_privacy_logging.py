"""Nothing people write, and no Telegram id, ends up in logs or in the database file."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from bot.config import Config
from bot.security.pseudonyms import Pseudonymizer, load_or_create_key
from bot.security.secret_key import default_key_file
from bot.services import Services
from tests.support import Person, PersonFactory

# A Telegram id long enough that it cannot turn up by chance (in a timestamp, a message id...).
SECRET_USER_ID = 739_218_604_553
MARKER = "zorblaxquint"
QUESTION = f"hva koster det {MARKER}"
CRISIS = f"jeg orker ikke mer {MARKER}crisis"


def leaks(record: logging.LogRecord, secrets: list[str]) -> list[str]:
    """The secrets that appear anywhere in a log record as it would be written."""
    parts = [record.getMessage(), str(record.args), record.name]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append(repr(record.exc_info[1]))
    if record.exc_text:
        parts.append(record.exc_text)
    rendered = logging.Formatter("%(message)s").format(record)
    parts.append(rendered)
    blob = "\n".join(parts)
    return [s for s in secrets if s in blob]


def database_files(database: Path) -> dict[Path, bytes]:
    """The database and its -wal/-shm companions, as bytes."""
    return {
        path: path.read_bytes()
        for path in database.parent.iterdir()
        if path.name.startswith(database.name)
    }


async def converse(person: Person) -> None:
    await person.say("/start")
    await person.say(QUESTION)
    await person.say(CRISIS)
    await person.say(f"what does it cost {MARKER}", edited=True)
    await person.press("lang:en", on=(await person.say("/language")).first)
    await person.press(f"t:{MARKER}")  # a forged button
    await person.say(f"/{MARKER}")  # an unknown command
    await person.say("/privacy")


async def test_bot_logs_carry_no_text_and_no_telegram_id(
    person_factory: PersonFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    person = person_factory(user_id=SECRET_USER_ID)
    await converse(person)

    own = [
        r for r in caplog.records if not r.name.startswith(("telegram", "aiosqlite", "asyncio"))
    ]
    assert any(r.name == "selvhjelp.events" for r in own), "the bot logs its decisions"
    for record in own:
        assert not leaks(record, [MARKER, str(SECRET_USER_ID), "koster det"]), record.getMessage()


async def test_no_log_record_at_debug_carries_text_or_telegram_id(
    person_factory: PersonFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Including the libraries: a deployer who turns on DEBUG must not get a list of ids."""
    caplog.set_level(logging.DEBUG)
    person = person_factory(user_id=SECRET_USER_ID)
    await converse(person)

    leaked = [
        f"{r.name}: {found}"
        for r in caplog.records
        if (found := leaks(r, [MARKER, str(SECRET_USER_ID)]))
    ]
    assert not leaked, leaked


async def test_crisis_is_logged_as_a_kind_only(
    person: Person, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="selvhjelp")
    await person.say(CRISIS)
    events = [r.getMessage() for r in caplog.records if r.name == "selvhjelp.events"]
    assert events == ["crisis_reply kind=suicide tier=crisis lang=nb"]


async def test_database_file_holds_no_id_and_no_text(
    person_factory: PersonFactory, services: Services, database: Path
) -> None:
    person = person_factory(user_id=SECRET_USER_ID)
    await converse(person)
    key = services.pseudonymizer.user_key(SECRET_USER_ID)
    assert await services.storage.get_language(key) == "en"
    await services.storage.close()  # flushes the WAL into the main file

    files = database_files(database)
    assert database in files
    for path, data in files.items():
        assert str(SECRET_USER_ID).encode() not in data, path
        assert MARKER.encode() not in data, path
        assert b"koster det" not in data, path
        assert b"orker ikke" not in data, path
    assert key.encode() in files[database]  # the pseudonym is what is stored


async def test_database_file_holds_no_id_while_open(
    person_factory: PersonFactory, database: Path
) -> None:
    person = person_factory(user_id=SECRET_USER_ID)
    await converse(person)
    files = database_files(database)
    assert files
    for path, data in files.items():
        assert str(SECRET_USER_ID).encode() not in data, path


@pytest.mark.usefixtures("services")
async def test_secret_key_file_is_owner_only(config: Config) -> None:
    assert_owner_only_key(default_key_file(config.data_dir))


def assert_owner_only_key(path: Path) -> None:
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_bytes().strip()) >= 32


def test_key_is_generated_once_and_reused(tmp_path: Path) -> None:
    first = load_or_create_key(tmp_path, None)
    assert load_or_create_key(tmp_path, None) == first
    assert stat.S_IMODE(default_key_file(tmp_path).stat().st_mode) == 0o600
    configured = "5f0c1d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d"
    assert load_or_create_key(tmp_path / "other", configured) == configured.encode()
    assert not default_key_file(tmp_path / "other").exists()


def test_pseudonyms_are_stable_keyed_and_reveal_nothing() -> None:
    a, b = Pseudonymizer(b"key-one"), Pseudonymizer(b"key-two")
    assert a.user_key(SECRET_USER_ID) == a.user_key(SECRET_USER_ID)
    assert a.user_key(SECRET_USER_ID) != b.user_key(SECRET_USER_ID)
    assert a.user_key(SECRET_USER_ID) != a.user_key(SECRET_USER_ID + 1)
    assert str(SECRET_USER_ID) not in a.user_key(SECRET_USER_ID)
