"""The one module that owns the database: aiosqlite connection, WAL, migrations and ALL SQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiosqlite

# Each entry migrates the schema from version i to i + 1. Never edit a released entry: append.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE residents (
        user_key   TEXT PRIMARY KEY,      -- HMAC of the Telegram id, never the id itself
        lang       TEXT,                  -- chosen language, NULL = follow Telegram's
        created_at INTEGER NOT NULL,      -- unix seconds
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
)


class Storage:
    """Typed async access to the bot's SQLite database."""

    def __init__(self, conn: aiosqlite.Connection, clock: Callable[[], float]) -> None:
        self._conn = conn
        self._clock = clock

    @classmethod
    async def open(cls, path: Path | str, clock: Callable[[], float]) -> Storage:
        """Open (creating if needed) the database, enable WAL and run pending migrations."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path))
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        storage = cls(conn, clock)
        await storage._migrate()
        return storage

    async def close(self) -> None:
        await self._conn.close()

    async def schema_version(self) -> int:
        async with self._conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        version = await self.schema_version()
        for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
            await self._conn.executescript(
                f"BEGIN; {script}; PRAGMA user_version = {target}; COMMIT;"
            )

    def _now(self) -> int:
        return int(self._clock())

    # --- residents ---------------------------------------------------------------------------

    async def get_language(self, user_key: str) -> str | None:
        """The language a resident chose with /language, or None."""
        async with self._conn.execute(
            "SELECT lang FROM residents WHERE user_key = ?", (user_key,)
        ) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row and row[0] else None

    async def set_language(self, user_key: str, lang: str) -> None:
        now = self._now()
        await self._conn.execute(
            "INSERT INTO residents (user_key, lang, created_at, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(user_key) DO UPDATE SET lang = excluded.lang,"
            " updated_at = excluded.updated_at",
            (user_key, lang, now, now),
        )
        await self._conn.commit()

    async def forget_resident(self, user_key: str) -> int:
        """Erase every row about the resident; returns how many rows went."""
        cur = await self._conn.execute("DELETE FROM residents WHERE user_key = ?", (user_key,))
        await self._conn.commit()
        return cur.rowcount or 0

    async def has_resident(self, user_key: str) -> bool:
        async with self._conn.execute(
            "SELECT 1 FROM residents WHERE user_key = ?", (user_key,)
        ) as cur:
            return await cur.fetchone() is not None
