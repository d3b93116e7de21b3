"""The database: migrations, WAL, and the resident's language (stored under a pseudonym)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage import MIGRATIONS, Storage

NOW = 1_750_000_000.0


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self, start: float = NOW) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def storage(tmp_path: Path, clock: Clock) -> AsyncIterator[Storage]:
    opened = await Storage.open(tmp_path / "db" / "s.sqlite3", clock)
    try:
        yield opened
    finally:
        await opened.close()


def tables(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ).fetchall()
    return [str(r[0]) for r in rows]


async def test_new_database_is_fully_migrated(storage: Storage, tmp_path: Path) -> None:
    assert await storage.schema_version() == len(MIGRATIONS)
    assert "residents" in tables(tmp_path / "db" / "s.sqlite3")


async def test_reopening_is_idempotent(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "s.sqlite3"
    first = await Storage.open(path, clock)
    await first.set_language("k1", "en")
    await first.close()
    before = tables(path)

    for _ in range(2):
        again = await Storage.open(path, clock)
        try:
            assert await again.schema_version() == len(MIGRATIONS)
            assert await again.get_language("k1") == "en"
        finally:
            await again.close()
    assert tables(path) == before


async def test_an_older_database_is_migrated_forward_keeping_its_rows(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(f"BEGIN; {MIGRATIONS[0]}; PRAGMA user_version = 1; COMMIT;")
        conn.execute(
            "INSERT INTO residents (user_key, lang, created_at, updated_at) VALUES (?, ?, ?, ?)",
            ("old-key", "en", 1, 1),
        )
    storage = await Storage.open(path, clock)
    try:
        assert await storage.schema_version() == len(MIGRATIONS)
        assert await storage.get_language("old-key") == "en"
    finally:
        await storage.close()


@pytest.mark.usefixtures("storage")
async def test_wal_mode_is_on(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "db" / "s.sqlite3") as conn:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert str(mode).lower() == "wal"


async def test_set_get_and_forget_language(storage: Storage) -> None:
    assert await storage.get_language("someone") is None
    assert not await storage.has_resident("someone")

    await storage.set_language("someone", "en")
    assert await storage.get_language("someone") == "en"
    assert await storage.has_resident("someone")

    await storage.set_language("someone", "nb")
    assert await storage.get_language("someone") == "nb"

    await storage.set_language("other", "en")
    removed = await storage.forget_resident("someone")
    assert removed >= 1
    assert await storage.get_language("someone") is None
    assert not await storage.has_resident("someone")
    # Only that person is gone.
    assert await storage.get_language("other") == "en"


async def test_forgetting_someone_unknown_is_harmless(storage: Storage) -> None:
    assert await storage.forget_resident("nobody") == 0
    assert not await storage.has_resident("nobody")


async def test_times_come_from_the_injected_clock(
    storage: Storage, clock: Clock, tmp_path: Path
) -> None:
    await storage.set_language("k", "nb")
    clock.now = NOW + 3 * 86400
    await storage.set_language("k", "en")
    with sqlite3.connect(tmp_path / "db" / "s.sqlite3") as conn:
        created, updated = conn.execute(
            "SELECT created_at, updated_at FROM residents WHERE user_key = 'k'"
        ).fetchone()
    # A resident's times are stored as their day (UTC here: no time zone given).
    assert (created, updated) == (int(NOW) // 86400 * 86400, (int(NOW) // 86400 + 3) * 86400)


async def test_in_memory_database_works(clock: Clock) -> None:
    storage = await Storage.open(":memory:", clock)
    try:
        assert await storage.schema_version() == len(MIGRATIONS)
        await storage.set_language("k", "en")
        assert await storage.get_language("k") == "en"
    finally:
        await storage.close()


async def test_sql_in_keys_is_just_data(storage: Storage) -> None:
    evil = "x'); DROP TABLE residents; --"
    await storage.set_language(evil, "en")
    assert await storage.get_language(evil) == "en"
    assert await storage.has_resident(evil)
    assert await storage.forget_resident(evil) >= 1
    assert await storage.schema_version() == len(MIGRATIONS)


async def test_a_flow_survives_reopening_and_each_read_is_a_fresh_copy(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "s.sqlite3"
    first = await Storage.open(path, clock)
    await first.set_flow("k1", "interest", {"step": "place", "picked": ["Lyngen"]})
    await first.set_flow("k2", "interest", {"step": "age"})
    await first.clear_flow("k2")
    state = await first.get_flow("k1")
    assert state is not None
    state[1]["picked"].append("Alta")  # a handler changing its copy changes nothing stored
    assert await first.get_flow("k1") == ("interest", {"step": "place", "picked": ["Lyngen"]})
    await first.close()

    again = await Storage.open(path, clock)
    try:
        assert await again.get_flow("k1") == ("interest", {"step": "place", "picked": ["Lyngen"]})
        assert await again.get_flow("k2") is None
        await again.forget_resident("k1")
        assert await again.get_flow("k1") is None
    finally:
        await again.close()
