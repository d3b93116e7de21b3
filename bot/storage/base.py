"""The connection every aggregate shares: opening (WAL, secure_delete, migrations), the write
lock and `_write`, WAL checkpoints, the in-memory mirrors (chosen languages, flows, tombstones,
requests under way) and the clock helpers, with `day_floor` for resident times."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, time
from pathlib import Path
from typing import Any, Self
from zoneinfo import ZoneInfo

import aiosqlite

from bot.security.file_modes import make_private_database
from bot.storage import schema

log = logging.getLogger("bot.storage")  # one logger name for the whole storage package

TOMBSTONE_SECONDS = 3600.0  # /forget refuses new outbox rows to the person this long (memory)
CHECKPOINT_TRIES = 20


def day_floor(ts: float, tz: ZoneInfo) -> int:
    """Local midnight at the start of the day of `ts`. Times that say when a resident did
    something (registered, changed, chose a language, followed meetings, got reminded) are
    stored this coarse: the bot only ever needs their day ("registered on", expiry, digest
    days and weeks), and a day cannot be joined with the to-the-second times of log lines
    (issue 10, F10). Times of coordinators, offices and admins stay exact."""
    day = datetime.fromtimestamp(ts, tz).date()
    return int(datetime.combine(day, time(0, 0), tz).timestamp())


class StorageBase:
    """Typed async access to the bot's SQLite database.

    One connection serves the whole process (aiosqlite runs it on its own thread), so writers
    never meet "database is locked"; multi-statement changes hold `_lock` to stay atomic.
    """

    def __init__(
        self, conn: aiosqlite.Connection, clock: Callable[[], float], timezone: str = "UTC"
    ) -> None:
        self._conn = conn
        self._clock = clock
        self._tz = ZoneInfo(timezone)  # the day of resident times (`_coarse`)
        self._lock = asyncio.Lock()
        # Every update asks for the chat language and whether the person is in a flow that
        # waits for typed text. Both tables are mirrored whole in memory (loaded on open, kept
        # in step by every write below), so the answer never needs a database round trip. They
        # hold only people who chose a language or are mid-flow: a few bytes each.
        self._languages: dict[str, str] = {}
        self._flows: dict[str, tuple[str, str]] = {}  # user key -> (flow, data as JSON)
        # Erased means erased, also for messages already taken from the outbox: the sender
        # asks `begin_send` right before each request (refused once the row is gone or the
        # person erased), and /forget waits for requests to that person still under way, so
        # nothing reaches them after it is confirmed. Tombstones (user key -> when) also stop
        # a job that read a person before /forget from queueing them again; they live in
        # memory only, for TOMBSTONE_SECONDS, and a person who comes back clears theirs.
        self._sending: dict[str, int] = {}  # user key -> requests under way to them
        self._send_landed = asyncio.Event()
        self._tombstones: dict[str, float] = {}

    @classmethod
    async def open(
        cls, path: Path | str, clock: Callable[[], float], timezone: str = "UTC"
    ) -> Self:
        """Open (creating if needed) the database, enable WAL and run pending migrations."""
        if str(path) != ":memory:":
            # Owner-only: a new folder 0700; the database 0600 before SQLite opens it, so its
            # -wal and -shm (which SQLite gives the database's mode) are 0600 too.
            Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            make_private_database(Path(path))
        conn = await aiosqlite.connect(str(path))
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        # Deleted rows are overwritten with zeros, not just unlinked (erasures checkpoint too).
        await conn.execute("PRAGMA secure_delete=ON")
        storage = cls(conn, clock, timezone)
        await storage._migrate()
        await storage._load_mirrors()
        return storage

    async def close(self) -> None:
        await self._conn.close()

    async def schema_version(self) -> int:
        return await schema.schema_version(self._conn)

    async def _migrate(self) -> None:
        await schema.migrate(self._conn)

    async def _load_mirrors(self) -> None:
        async with self._conn.execute(
            "SELECT user_key, lang FROM residents WHERE lang IS NOT NULL AND lang != ''"
        ) as cur:
            self._languages = {str(key): str(lang) async for key, lang in cur}
        async with self._conn.execute("SELECT user_key, flow, data FROM flow_state") as cur:
            self._flows = {str(key): (str(flow), str(data)) async for key, flow, data in cur}

    async def _write(self, sql: str, args: Sequence[Any] = ()) -> aiosqlite.Cursor:
        """One statement, committed, under the write lock: a commit from here can never land in
        the middle of a multi-statement change (forget, save, use_invite) and cut it in half."""
        async with self._lock:
            cur = await self._conn.execute(sql, args)
            await self._conn.commit()
            return cur

    def _now(self) -> int:
        return int(self._clock())

    def _coarse(self, ts: float | None = None) -> int:
        """`ts` (default: now) as the local midnight it falls after: see `day_floor`."""
        return day_floor(self._clock() if ts is None else ts, self._tz)

    def _erased(self, user_key: str) -> bool:
        """Whether the person ran /forget within TOMBSTONE_SECONDS and has not come back."""
        at = self._tombstones.get(user_key)
        return at is not None and at > float(self._clock()) - TOMBSTONE_SECONDS

    async def _checkpoint(self) -> None:
        """Copy the WAL into the database file and truncate it to nothing, so erased rows
        leave no earlier page in -wal (secure_delete has zeroed them in the pages that
        replace them). Called under `_lock`, right after an erasure is committed."""
        # Another process reading (a backup) would hold the checkpoint for busy_timeout on
        # every try: wait briefly instead, and let the event loop run between tries.
        await self._conn.execute("PRAGMA busy_timeout=50")
        try:
            for attempt in range(CHECKPOINT_TRIES):
                try:
                    async with self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cur:
                        row = await cur.fetchone()
                    busy = row is not None and int(row[0]) != 0
                except sqlite3.OperationalError:  # "table is locked": a read of ours under way
                    busy = True
                if not busy:
                    return
                await asyncio.sleep(0.005 * (attempt + 1))  # let that read finish
            log.warning("erasure: the WAL checkpoint stayed busy; the next erasure retries it")
        finally:
            await self._conn.execute("PRAGMA busy_timeout=5000")

    async def checkpoint(self) -> None:
        """Checkpoint the WAL now (after a batch of erasures made with checkpoint=False)."""
        async with self._lock:
            await self._checkpoint()
