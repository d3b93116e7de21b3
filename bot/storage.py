"""The one module that owns the database: aiosqlite connection, WAL, migrations and ALL SQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    # 2: interest registrations, flow state, roles, the outbox, invitations (issue 3).
    """
    ALTER TABLE residents ADD COLUMN chat_enc BLOB;           -- AES-GCM encrypted chat id
    ALTER TABLE residents ADD COLUMN active INTEGER NOT NULL DEFAULT 1;  -- 0: blocked the bot

    CREATE TABLE flow_state (             -- where a person is in a multi-step flow
        user_key   TEXT PRIMARY KEY,
        flow       TEXT NOT NULL,
        data       TEXT NOT NULL,         -- JSON: step and the answers so far (button values)
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE registrations (          -- one anonymous registration of interest per resident
        user_key     TEXT PRIMARY KEY,
        municipality TEXT NOT NULL,       -- name from config.yaml, '' = not listed
        region_id    TEXT NOT NULL,
        group_kind   TEXT NOT NULL,       -- 'open', 'any' or a theme id from config.yaml
        time_pref    TEXT NOT NULL,       -- 'day', 'evening', 'either'
        contact_ok   INTEGER NOT NULL,    -- 1: may be messaged about groups and meetings
        created_at   INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL,
        reminded_at  INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX registrations_place ON registrations (region_id, municipality);
    CREATE INDEX registrations_expiry ON registrations (expires_at);

    CREATE TABLE registration_events (    -- anonymous weekly tallies for digests and trends
        municipality TEXT NOT NULL,
        region_id    TEXT NOT NULL,
        week         INTEGER NOT NULL,    -- weeks since Monday 1970-01-05 (Europe/Oslo)
        kind         TEXT NOT NULL,       -- 'new', 'withdrawn', 'expired'
        n            INTEGER NOT NULL,
        PRIMARY KEY (municipality, region_id, week, kind)
    ) WITHOUT ROWID;

    CREATE TABLE roles (                  -- roles granted through invite links
        user_key   TEXT NOT NULL,
        role       TEXT NOT NULL,         -- 'admin', 'coordinator', 'office'
        scope      TEXT NOT NULL,         -- municipality name, region id, or '' for admins
        chat_enc   BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (user_key, role, scope)
    ) WITHOUT ROWID;

    CREATE TABLE invites (                -- single-use role invite links
        token_hash TEXT PRIMARY KEY,      -- SHA-256 of the token in the link
        role       TEXT NOT NULL,
        scope      TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at    INTEGER
    ) WITHOUT ROWID;

    CREATE TABLE outbox (                 -- durable, rate-limited fan-out: one row per recipient
        id         INTEGER PRIMARY KEY,
        campaign   TEXT NOT NULL,         -- e.g. 'digest:2917:<key>', 'invitation:12'
        recipient  TEXT NOT NULL,         -- the recipient's user key
        chat_enc   BLOB NOT NULL,
        payload    TEXT NOT NULL,         -- JSON: text, buttons, document
        status     TEXT NOT NULL DEFAULT 'pending',  -- pending, sent, blocked, failed
        attempts   INTEGER NOT NULL DEFAULT 0,
        not_before REAL NOT NULL DEFAULT 0,
        sent_at    INTEGER,
        UNIQUE (campaign, recipient)
    );
    CREATE INDEX outbox_due ON outbox (status, not_before);

    CREATE TABLE invitations (            -- start-meeting invitations relayed for coordinators
        id           INTEGER PRIMARY KEY,
        sender_key   TEXT NOT NULL,
        municipality TEXT NOT NULL,
        group_kind   TEXT,                -- NULL: everyone waiting there
        text         TEXT NOT NULL,       -- the coordinator's own words (the flow needs them)
        sender_chat  BLOB NOT NULL,       -- where to deliver shared contacts
        created_at   INTEGER NOT NULL
    );
    CREATE TABLE invitation_answers (
        invitation_id INTEGER NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
        user_key      TEXT NOT NULL,
        answer        TEXT NOT NULL,      -- 'yes', 'maybe', 'no'
        shared        INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (invitation_id, user_key)
    ) WITHOUT ROWID;
    """,
    # 3: information meetings: subscriptions, announcements, "coming" and "remind me" marks.
    """
    CREATE TABLE subscriptions (          -- who follows meetings where (no names, no ids)
        user_key     TEXT NOT NULL,
        region_id    TEXT NOT NULL,
        municipality TEXT NOT NULL,       -- '' = the whole region
        created_at   INTEGER NOT NULL,
        PRIMARY KEY (user_key, region_id, municipality)
    ) WITHOUT ROWID;
    CREATE INDEX subscriptions_place ON subscriptions (region_id, municipality);

    CREATE TABLE meetings (               -- information meetings announced by regional offices
        id             INTEGER PRIMARY KEY,
        uid            TEXT NOT NULL UNIQUE,   -- stable calendar UID
        office_key     TEXT NOT NULL,
        office_chat    BLOB NOT NULL,
        region_id      TEXT NOT NULL,
        title          TEXT NOT NULL,
        starts_at      INTEGER NOT NULL,  -- unix seconds
        place          TEXT NOT NULL,
        link           TEXT,
        description    TEXT,
        municipalities TEXT NOT NULL,     -- JSON list of targeted municipality names
        status         TEXT NOT NULL DEFAULT 'active',  -- active, cancelled
        version        INTEGER NOT NULL DEFAULT 1,      -- bumped by every change
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL
    );
    CREATE INDEX meetings_region ON meetings (region_id, starts_at);

    CREATE TABLE meeting_marks (          -- anonymous "I'm coming" and "remind me" presses
        meeting_id INTEGER NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
        user_key   TEXT NOT NULL,
        mark       TEXT NOT NULL,         -- 'coming', 'remind'
        chat_enc   BLOB NOT NULL,         -- to tell them about changes, and to remind them
        reminded   INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (meeting_id, user_key, mark)
    ) WITHOUT ROWID;
    """,
    # 4: how often each municipality's poster link started the bot (issue 5).
    """
    CREATE TABLE link_starts (            -- anonymous weekly tallies: no user key, ever
        municipality TEXT NOT NULL,       -- name from config.yaml
        region_id    TEXT NOT NULL,
        week         INTEGER NOT NULL,    -- weeks since Monday 1970-01-05 (Europe/Oslo)
        n            INTEGER NOT NULL,    -- /start presses with this place's valid payload
        PRIMARY KEY (municipality, region_id, week)
    ) WITHOUT ROWID;
    """,
)


@dataclass(frozen=True)
class Registration:
    user_key: str
    municipality: str  # '' when the resident's municipality is not listed
    region_id: str
    group_kind: str
    time_pref: str
    contact_ok: bool
    created_at: int
    updated_at: int
    expires_at: int
    reminded_at: int | None


@dataclass(frozen=True)
class EventTally:
    municipality: str
    region_id: str
    week: int
    kind: str
    n: int


@dataclass(frozen=True)
class RoleGrant:
    user_key: str
    role: str
    scope: str
    chat_enc: bytes
    created_at: int


@dataclass(frozen=True)
class OutboxRow:
    id: int
    campaign: str
    recipient: str
    chat_enc: bytes
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Invitation:
    id: int
    sender_key: str
    municipality: str
    group_kind: str | None
    text: str
    sender_chat: bytes
    created_at: int


@dataclass(frozen=True)
class Meeting:
    """An information meeting as stored; `id` 0 and `version` 0 before it is saved."""

    id: int
    uid: str
    office_key: str
    office_chat: bytes
    region_id: str
    title: str
    starts_at: int
    place: str
    link: str | None
    description: str | None
    municipalities: tuple[str, ...]
    status: str = "active"
    version: int = 0


_MEETING_COLUMNS = (
    "id, uid, office_key, office_chat, region_id, title, starts_at, place, link, description,"
    " municipalities, status, version"
)


def _meeting(r: Sequence[Any]) -> Meeting:
    return Meeting(
        int(r[0]), str(r[1]), str(r[2]), bytes(r[3]), str(r[4]), str(r[5]), int(r[6]),
        str(r[7]), r[8], r[9], tuple(json.loads(r[10])), str(r[11]), int(r[12]),
    )  # fmt: skip


_REG_COLUMNS = (
    "user_key, municipality, region_id, group_kind, time_pref, contact_ok,"
    " created_at, updated_at, expires_at, reminded_at"
)


def _registration(row: Sequence[Any]) -> Registration:
    return Registration(
        str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), bool(row[5]),
        int(row[6]), int(row[7]), int(row[8]), None if row[9] is None else int(row[9]),
    )  # fmt: skip


class Storage:
    """Typed async access to the bot's SQLite database.

    One connection serves the whole process (aiosqlite runs it on its own thread), so writers
    never meet "database is locked"; multi-statement changes hold `_lock` to stay atomic.
    """

    def __init__(self, conn: aiosqlite.Connection, clock: Callable[[], float]) -> None:
        self._conn = conn
        self._clock = clock
        self._lock = asyncio.Lock()
        # Every update asks for the chat language and whether the person is in a flow that
        # waits for typed text. Both tables are mirrored whole in memory (loaded on open, kept
        # in step by every write below), so the answer never needs a database round trip. They
        # hold only people who chose a language or are mid-flow: a few bytes each.
        self._languages: dict[str, str] = {}
        self._flows: dict[str, tuple[str, str]] = {}  # user key -> (flow, data as JSON)

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
        await storage._load_mirrors()
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

    # --- residents ---------------------------------------------------------------------------

    async def get_language(self, user_key: str) -> str | None:
        """The language a resident chose with /language, or None."""
        return self._languages.get(user_key)

    async def set_language(self, user_key: str, lang: str) -> None:
        now = self._now()
        await self._write(
            "INSERT INTO residents (user_key, lang, created_at, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(user_key) DO UPDATE SET lang = excluded.lang,"
            " updated_at = excluded.updated_at",
            (user_key, lang, now, now),
        )
        self._languages[user_key] = lang

    async def forget_resident(self, user_key: str, week: int | None = None) -> int:
        """Erase every row about the person, in every table; returns how many rows went.

        A registration that goes this way is tallied as withdrawn (anonymously) first, so
        digests stay right without keeping anything about who it was.
        """
        self._languages.pop(user_key, None)
        self._flows.pop(user_key, None)
        async with self._lock:
            reg = await self._get_registration(user_key)
            if reg is not None and week is not None:
                await self._tally(reg.municipality, reg.region_id, week, "withdrawn")
            removed = 0
            for sql in (
                "DELETE FROM residents WHERE user_key = ?",
                "DELETE FROM flow_state WHERE user_key = ?",
                "DELETE FROM registrations WHERE user_key = ?",
                "DELETE FROM roles WHERE user_key = ?",
                "DELETE FROM invitation_answers WHERE user_key = ?",
                "DELETE FROM outbox WHERE recipient = ?",
                "DELETE FROM subscriptions WHERE user_key = ?",
                "DELETE FROM meeting_marks WHERE user_key = ?",
                # As a coordinator: their invitations (answers go with them); as an office: the
                # meetings stay for the residents who follow them, but no longer point to them.
                "DELETE FROM invitations WHERE sender_key = ?",
                "UPDATE meetings SET office_key = '', office_chat = x'' WHERE office_key = ?",
            ):
                cur = await self._conn.execute(sql, (user_key,))
                removed += cur.rowcount or 0
            await self._conn.commit()
        return removed

    async def has_resident(self, user_key: str) -> bool:
        async with self._conn.execute(
            "SELECT 1 FROM residents WHERE user_key = ?", (user_key,)
        ) as cur:
            return await cur.fetchone() is not None

    async def ensure_resident(self, user_key: str, chat_enc: bytes | None = None) -> None:
        """Create the resident row if missing; store the (encrypted) chat id when given."""
        now = self._now()
        await self._write(
            "INSERT INTO residents (user_key, lang, created_at, updated_at, chat_enc, active)"
            " VALUES (?, NULL, ?, ?, ?, 1) ON CONFLICT(user_key) DO UPDATE SET"
            " chat_enc = COALESCE(excluded.chat_enc, residents.chat_enc), active = 1,"
            " updated_at = excluded.updated_at",
            (user_key, now, now, chat_enc),
        )

    async def resident_chat(self, user_key: str) -> bytes | None:
        async with self._conn.execute(
            "SELECT chat_enc FROM residents WHERE user_key = ? AND active = 1", (user_key,)
        ) as cur:
            row = await cur.fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    async def mark_inactive(self, user_key: str) -> None:
        """The person blocked the bot: stop messaging them (their data stays until expiry)."""
        async with self._lock:
            await self._conn.execute(
                "UPDATE residents SET active = 0 WHERE user_key = ?", (user_key,)
            )
            await self._conn.execute(
                "UPDATE outbox SET status = 'blocked' WHERE recipient = ? AND status = 'pending'",
                (user_key,),
            )
            await self._conn.commit()

    # --- flow state --------------------------------------------------------------------------

    def flow_name(self, user_key: str) -> str | None:
        """Which multi-step flow the person is in, if any (answered from memory)."""
        state = self._flows.get(user_key)
        return state[0] if state else None

    async def get_flow(self, user_key: str) -> tuple[str, dict[str, Any]] | None:
        """The flow a person is in and its data (a fresh copy), surviving restarts."""
        state = self._flows.get(user_key)
        return (state[0], dict(json.loads(state[1]))) if state else None

    async def set_flow(self, user_key: str, flow: str, data: dict[str, Any]) -> None:
        encoded = json.dumps(data, ensure_ascii=False)
        await self._write(
            "INSERT INTO flow_state (user_key, flow, data, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(user_key) DO UPDATE SET flow = excluded.flow, data = excluded.data,"
            " updated_at = excluded.updated_at",
            (user_key, flow, encoded, self._now()),
        )
        self._flows[user_key] = (flow, encoded)

    async def clear_flow(self, user_key: str) -> bool:
        cur = await self._write("DELETE FROM flow_state WHERE user_key = ?", (user_key,))
        self._flows.pop(user_key, None)
        return bool(cur.rowcount)

    # --- registrations -----------------------------------------------------------------------

    async def _get_registration(self, user_key: str) -> Registration | None:
        async with self._conn.execute(
            f"SELECT {_REG_COLUMNS} FROM registrations WHERE user_key = ?", (user_key,)
        ) as cur:
            row = await cur.fetchone()
        return _registration(row) if row else None

    async def get_registration(self, user_key: str) -> Registration | None:
        return await self._get_registration(user_key)

    async def _tally(self, municipality: str, region_id: str, week: int, kind: str) -> None:
        await self._conn.execute(
            "INSERT INTO registration_events (municipality, region_id, week, kind, n)"
            " VALUES (?, ?, ?, ?, 1) ON CONFLICT (municipality, region_id, week, kind)"
            " DO UPDATE SET n = n + 1",
            (municipality, region_id, week, kind),
        )

    async def save_registration(self, reg: Registration, week: int) -> None:
        """Insert or replace the resident's registration; moving place counts as new there."""
        async with self._lock:
            old = await self._get_registration(reg.user_key)
            if old is None or (old.municipality, old.region_id) != (
                reg.municipality,
                reg.region_id,
            ):
                if old is not None:
                    await self._tally(old.municipality, old.region_id, week, "withdrawn")
                await self._tally(reg.municipality, reg.region_id, week, "new")
            await self._conn.execute(
                f"INSERT OR REPLACE INTO registrations ({_REG_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    reg.user_key, reg.municipality, reg.region_id, reg.group_kind,
                    reg.time_pref, int(reg.contact_ok), reg.created_at, reg.updated_at,
                    reg.expires_at, reg.reminded_at,
                ),
            )  # fmt: skip
            await self._conn.commit()

    async def remove_registration(self, user_key: str, week: int, kind: str) -> bool:
        """Withdraw ('withdrawn') or expire ('expired') a registration, tallying it."""
        async with self._lock:
            old = await self._get_registration(user_key)
            if old is None:
                return False
            await self._tally(old.municipality, old.region_id, week, kind)
            await self._conn.execute("DELETE FROM registrations WHERE user_key = ?", (user_key,))
            await self._conn.commit()
            return True

    async def registrations_in(
        self, places: Iterable[tuple[str, str]] | None = None
    ) -> list[Registration]:
        """Registrations in the given (region_id, municipality) places, or all of them."""
        if places is None:
            sql, args = f"SELECT {_REG_COLUMNS} FROM registrations", tuple[str, ...]()
        else:
            pairs = list(places)
            if not pairs:
                return []
            marks = ",".join("(?, ?)" for _ in pairs)
            sql = (
                f"SELECT {_REG_COLUMNS} FROM registrations"
                f" WHERE (region_id, municipality) IN (VALUES {marks})"
            )
            args = tuple(x for pair in pairs for x in pair)
        async with self._conn.execute(sql, args) as cur:
            return [_registration(row) for row in await cur.fetchall()]

    async def tallies_since(self, week: int) -> list[EventTally]:
        async with self._conn.execute(
            "SELECT municipality, region_id, week, kind, n FROM registration_events"
            " WHERE week >= ?",
            (week,),
        ) as cur:
            return [
                EventTally(str(r[0]), str(r[1]), int(r[2]), str(r[3]), int(r[4]))
                for r in await cur.fetchall()
            ]

    async def registrations_due_reminder(self, before: int) -> list[Registration]:
        """Registrations expiring before `before` that have not been reminded yet."""
        async with self._conn.execute(
            f"SELECT {_REG_COLUMNS} FROM registrations"
            " WHERE expires_at <= ? AND reminded_at IS NULL",
            (before,),
        ) as cur:
            return [_registration(row) for row in await cur.fetchall()]

    async def mark_reminded(self, user_key: str) -> None:
        await self._write(
            "UPDATE registrations SET reminded_at = ? WHERE user_key = ?",
            (self._now(), user_key),
        )

    async def extend_registration(self, user_key: str, expires_at: int) -> int | None:
        """Keep a registration longer (the resident answered the reminder); new expiry or None."""
        cur = await self._write(
            "UPDATE registrations SET expires_at = ?, reminded_at = NULL, updated_at = ?"
            " WHERE user_key = ?",
            (expires_at, self._now(), user_key),
        )
        return expires_at if cur.rowcount else None

    async def registrations_expired(self, now: int) -> list[str]:
        async with self._conn.execute(
            "SELECT user_key FROM registrations WHERE expires_at <= ?", (now,)
        ) as cur:
            return [str(r[0]) for r in await cur.fetchall()]

    async def contactable_in(
        self, region_id: str, municipality: str, group_kind: str | None = None
    ) -> list[tuple[str, bytes]]:
        """(user key, encrypted chat) of active residents waiting there who accept messages."""
        sql = (
            "SELECT r.user_key, p.chat_enc FROM registrations r"
            " JOIN residents p ON p.user_key = r.user_key"
            " WHERE r.region_id = ? AND r.municipality = ? AND r.contact_ok = 1"
            " AND p.active = 1 AND p.chat_enc IS NOT NULL"
        )
        args: tuple[Any, ...] = (region_id, municipality)
        if group_kind is not None:  # people with no preference welcome any kind of group
            sql += " AND r.group_kind IN (?, 'any')"
            args += (group_kind,)
        async with self._conn.execute(sql, args) as cur:
            return [(str(r[0]), bytes(r[1])) for r in await cur.fetchall()]

    # --- roles and invites -------------------------------------------------------------------

    async def grant_role(self, grant: RoleGrant) -> None:
        await self._write(
            "INSERT OR REPLACE INTO roles (user_key, role, scope, chat_enc, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (grant.user_key, grant.role, grant.scope, grant.chat_enc, grant.created_at),
        )

    async def roles_of(self, user_key: str) -> list[RoleGrant]:
        async with self._conn.execute(
            "SELECT user_key, role, scope, chat_enc, created_at FROM roles WHERE user_key = ?",
            (user_key,),
        ) as cur:
            return [
                RoleGrant(str(r[0]), str(r[1]), str(r[2]), bytes(r[3]), int(r[4]))
                for r in await cur.fetchall()
            ]

    async def all_roles(self) -> list[RoleGrant]:
        async with self._conn.execute(
            "SELECT user_key, role, scope, chat_enc, created_at FROM roles"
            " ORDER BY role, scope, created_at"
        ) as cur:
            return [
                RoleGrant(str(r[0]), str(r[1]), str(r[2]), bytes(r[3]), int(r[4]))
                for r in await cur.fetchall()
            ]

    async def revoke_role(self, user_key: str, role: str, scope: str) -> bool:
        cur = await self._write(
            "DELETE FROM roles WHERE user_key = ? AND role = ? AND scope = ?",
            (user_key, role, scope),
        )
        return bool(cur.rowcount)

    async def create_invite(self, token_hash: str, role: str, scope: str, expires_at: int) -> None:
        await self._write(
            "INSERT INTO invites (token_hash, role, scope, expires_at) VALUES (?, ?, ?, ?)",
            (token_hash, role, scope, expires_at),
        )

    async def use_invite(self, token_hash: str, now: int) -> tuple[str, str] | None:
        """Consume a valid, unused, unexpired invite atomically; (role, scope) or None."""
        async with self._lock:
            cur = await self._conn.execute(
                "UPDATE invites SET used_at = ? WHERE token_hash = ? AND used_at IS NULL"
                " AND expires_at > ? RETURNING role, scope",
                (now, token_hash, now),
            )
            row = await cur.fetchone()
            await self._conn.commit()
        return (str(row[0]), str(row[1])) if row else None

    # --- outbox ------------------------------------------------------------------------------

    async def enqueue(
        self, campaign: str, rows: Iterable[tuple[str, bytes, dict[str, Any]]]
    ) -> int:
        """Add (recipient, chat_enc, payload) rows; a recipient already in the campaign is
        skipped, which makes enqueueing idempotent across restarts. Returns rows added."""
        data = [
            (campaign, recipient, chat, json.dumps(payload, ensure_ascii=False))
            for recipient, chat, payload in rows
        ]
        async with self._lock:
            cur = await self._conn.executemany(
                "INSERT OR IGNORE INTO outbox (campaign, recipient, chat_enc, payload)"
                " VALUES (?, ?, ?, ?)",
                data,
            )
            await self._conn.commit()
            return max(cur.rowcount, 0)  # rows added; ignored duplicates do not count

    async def campaign_exists(self, campaign: str) -> bool:
        async with self._conn.execute(
            "SELECT 1 FROM outbox WHERE campaign = ? LIMIT 1", (campaign,)
        ) as cur:
            return await cur.fetchone() is not None

    async def due_outbox(self, now: float, limit: int) -> list[OutboxRow]:
        async with self._conn.execute(
            "SELECT id, campaign, recipient, chat_enc, payload, attempts FROM outbox"
            " WHERE status = 'pending' AND not_before <= ? ORDER BY id LIMIT ?",
            (now, limit),
        ) as cur:
            return [
                OutboxRow(
                    int(r[0]), str(r[1]), str(r[2]), bytes(r[3]), json.loads(r[4]), int(r[5])
                )
                for r in await cur.fetchall()
            ]

    async def next_outbox_time(self) -> float | None:
        async with self._conn.execute(
            "SELECT MIN(not_before) FROM outbox WHERE status = 'pending'"
        ) as cur:
            row = await cur.fetchone()
        return float(row[0]) if row and row[0] is not None else None

    async def outbox_done(self, row_id: int, status: str) -> None:
        """Record a final outcome: 'sent', 'blocked' or 'failed'."""
        await self._write(
            "UPDATE outbox SET status = ?, sent_at = ? WHERE id = ?",
            (status, self._now(), row_id),
        )

    async def outbox_retry(self, row_id: int, not_before: float) -> None:
        await self._write(
            "UPDATE outbox SET attempts = attempts + 1, not_before = ? WHERE id = ?",
            (not_before, row_id),
        )

    async def is_recipient(self, campaign: str, user_key: str) -> bool:
        """Whether the campaign was addressed to this person (checked before any answer)."""
        async with self._conn.execute(
            "SELECT 1 FROM outbox WHERE campaign = ? AND recipient = ?", (campaign, user_key)
        ) as cur:
            return await cur.fetchone() is not None

    async def purge_outbox(self, before: int) -> int:
        """Forget delivered (or given-up) rows older than `before`: answers to them then expire."""
        cur = await self._write(
            "DELETE FROM outbox WHERE status != 'pending' AND sent_at < ?", (before,)
        )
        return cur.rowcount or 0

    async def campaign_progress(self, campaign: str) -> dict[str, int]:
        """How many rows of a campaign are pending, sent, blocked and failed."""
        async with self._conn.execute(
            "SELECT status, COUNT(*) FROM outbox WHERE campaign = ? GROUP BY status", (campaign,)
        ) as cur:
            counts = {str(r[0]): int(r[1]) for r in await cur.fetchall()}
        return {k: counts.get(k, 0) for k in ("pending", "sent", "blocked", "failed")}

    # --- invitations -------------------------------------------------------------------------

    async def create_invitation(
        self,
        sender_key: str,
        municipality: str,
        group_kind: str | None,
        text: str,
        sender_chat: bytes,
    ) -> int:
        cur = await self._write(
            "INSERT INTO invitations (sender_key, municipality, group_kind, text, sender_chat,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (sender_key, municipality, group_kind, text, sender_chat, self._now()),
        )
        return int(cur.lastrowid or 0)

    async def get_invitation(self, invitation_id: int) -> Invitation | None:
        async with self._conn.execute(
            "SELECT id, sender_key, municipality, group_kind, text, sender_chat, created_at"
            " FROM invitations WHERE id = ?",
            (invitation_id,),
        ) as cur:
            r = await cur.fetchone()
        if r is None:
            return None
        return Invitation(int(r[0]), str(r[1]), str(r[2]), r[3], str(r[4]), bytes(r[5]), int(r[6]))

    async def answer_invitation(self, invitation_id: int, user_key: str, answer: str) -> None:
        """Record or change a resident's answer ('yes', 'maybe', 'no')."""
        await self._write(
            "INSERT INTO invitation_answers (invitation_id, user_key, answer, shared)"
            " VALUES (?, ?, ?, 0) ON CONFLICT (invitation_id, user_key)"
            " DO UPDATE SET answer = excluded.answer",
            (invitation_id, user_key, answer),
        )

    async def mark_shared(self, invitation_id: int, user_key: str) -> bool:
        """Set the share flag; True only the first time (the coordinator is told once).
        Sharing without answering is stored as answer 'none', which no answer count includes."""
        async with self._lock:
            cur = await self._conn.execute(
                "INSERT INTO invitation_answers (invitation_id, user_key, answer, shared)"
                " VALUES (?, ?, 'none', 1) ON CONFLICT (invitation_id, user_key)"
                " DO UPDATE SET shared = 1 WHERE shared = 0",
                (invitation_id, user_key),
            )
            await self._conn.commit()
        return bool(cur.rowcount)

    async def unmark_shared(self, invitation_id: int, user_key: str) -> None:
        """Undo mark_shared when the coordinator could not be told."""
        await self._write(
            "UPDATE invitation_answers SET shared = 0 WHERE invitation_id = ? AND user_key = ?",
            (invitation_id, user_key),
        )

    async def invitation_counts(self, invitation_id: int) -> dict[str, int]:
        async with self._conn.execute(
            "SELECT answer, COUNT(*), SUM(shared) FROM invitation_answers"
            " WHERE invitation_id = ? GROUP BY answer",
            (invitation_id,),
        ) as cur:
            rows = await cur.fetchall()
        counts = {str(r[0]): int(r[1]) for r in rows}
        out = {k: counts.get(k, 0) for k in ("yes", "maybe", "no")}
        out["shared"] = sum(int(r[2] or 0) for r in rows)
        return out

    async def invitations_by(self, sender_key: str) -> list[Invitation]:
        async with self._conn.execute(
            "SELECT id, sender_key, municipality, group_kind, text, sender_chat, created_at"
            " FROM invitations WHERE sender_key = ? ORDER BY id DESC LIMIT 10",
            (sender_key,),
        ) as cur:
            return [
                Invitation(
                    int(r[0]), str(r[1]), str(r[2]), r[3], str(r[4]), bytes(r[5]), int(r[6])
                )
                for r in await cur.fetchall()
            ]

    # --- information meetings ----------------------------------------------------------------

    async def subscribe(self, user_key: str, region_id: str, municipality: str) -> bool:
        """Follow meetings in a municipality ('' = the whole region); False if already did."""
        cur = await self._write(
            "INSERT OR IGNORE INTO subscriptions (user_key, region_id, municipality, created_at)"
            " VALUES (?, ?, ?, ?)",
            (user_key, region_id, municipality, self._now()),
        )
        return bool(cur.rowcount)

    async def unsubscribe(
        self, user_key: str, region_id: str | None = None, municipality: str | None = None
    ) -> int:
        """Stop one subscription, or all of them when no place is given."""
        if region_id is None:
            cur = await self._write("DELETE FROM subscriptions WHERE user_key = ?", (user_key,))
        else:
            cur = await self._write(
                "DELETE FROM subscriptions WHERE user_key = ? AND region_id = ?"
                " AND municipality = ?",
                (user_key, region_id, municipality or ""),
            )
        return cur.rowcount or 0

    async def subscriptions_of(self, user_key: str) -> list[tuple[str, str]]:
        """(region_id, municipality) pairs the person follows."""
        async with self._conn.execute(
            "SELECT region_id, municipality FROM subscriptions WHERE user_key = ?"
            " ORDER BY region_id, municipality",
            (user_key,),
        ) as cur:
            return [(str(r[0]), str(r[1])) for r in await cur.fetchall()]

    async def subscribers_for(
        self, region_id: str, municipalities: Sequence[str]
    ) -> list[tuple[str, bytes]]:
        """(user key, encrypted chat) of active subscribers to these places or the region."""
        marks = ",".join("?" for _ in municipalities) or "NULL"
        async with self._conn.execute(
            "SELECT DISTINCT s.user_key, p.chat_enc FROM subscriptions s"
            " JOIN residents p ON p.user_key = s.user_key"
            " WHERE s.region_id = ? AND p.active = 1 AND p.chat_enc IS NOT NULL"
            f" AND (s.municipality = '' OR s.municipality IN ({marks}))",
            (region_id, *municipalities),
        ) as cur:
            return [(str(r[0]), bytes(r[1])) for r in await cur.fetchall()]

    async def create_meeting(self, meeting: Meeting) -> int:
        now = self._now()
        cur = await self._write(
            "INSERT INTO meetings (uid, office_key, office_chat, region_id, title, starts_at,"
            " place, link, description, municipalities, status, version, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', 1, ?, ?)",
            (
                meeting.uid, meeting.office_key, meeting.office_chat, meeting.region_id,
                meeting.title, meeting.starts_at, meeting.place, meeting.link,
                meeting.description, json.dumps(list(meeting.municipalities)), now, now,
            ),
        )  # fmt: skip
        return int(cur.lastrowid or 0)

    async def get_meeting(self, meeting_id: int) -> Meeting | None:
        async with self._conn.execute(
            f"SELECT {_MEETING_COLUMNS} FROM meetings WHERE id = ?", (meeting_id,)
        ) as cur:
            row = await cur.fetchone()
        return _meeting(row) if row else None

    async def update_meeting(self, meeting: Meeting) -> int:
        """Save changed fields (or status); returns the new version number. A new start time
        re-arms "remind me", so people are reminded before the meeting as it now is."""
        async with self._lock:
            await self._update_meeting(meeting)
        async with self._conn.execute(
            "SELECT version FROM meetings WHERE id = ?", (meeting.id,)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _update_meeting(self, meeting: Meeting) -> None:
        await self._conn.execute(
            "UPDATE meeting_marks SET reminded = 0 WHERE mark = 'remind' AND meeting_id = ?"
            " AND ? != (SELECT starts_at FROM meetings WHERE id = ?)",
            (meeting.id, meeting.starts_at, meeting.id),
        )
        await self._conn.execute(
            "UPDATE meetings SET title = ?, starts_at = ?, place = ?, link = ?, description = ?,"
            " municipalities = ?, status = ?, version = version + 1, updated_at = ?"
            " WHERE id = ?",
            (
                meeting.title, meeting.starts_at, meeting.place, meeting.link,
                meeting.description, json.dumps(list(meeting.municipalities)), meeting.status,
                self._now(), meeting.id,
            ),
        )  # fmt: skip
        await self._conn.commit()

    async def meetings_in_region(self, region_id: str, after: int) -> list[Meeting]:
        """Active and cancelled meetings of a region that start after `after`, soonest first."""
        async with self._conn.execute(
            f"SELECT {_MEETING_COLUMNS} FROM meetings WHERE region_id = ? AND starts_at > ?"
            " ORDER BY starts_at",
            (region_id, after),
        ) as cur:
            return [_meeting(r) for r in await cur.fetchall()]

    async def set_mark(self, meeting_id: int, user_key: str, mark: str, chat_enc: bytes) -> bool:
        """Record "coming" or "remind"; False if it was already set."""
        cur = await self._write(
            "INSERT OR IGNORE INTO meeting_marks (meeting_id, user_key, mark, chat_enc)"
            " VALUES (?, ?, ?, ?)",
            (meeting_id, user_key, mark, chat_enc),
        )
        return bool(cur.rowcount)

    async def clear_mark(self, meeting_id: int, user_key: str, mark: str) -> bool:
        cur = await self._write(
            "DELETE FROM meeting_marks WHERE meeting_id = ? AND user_key = ? AND mark = ?",
            (meeting_id, user_key, mark),
        )
        return bool(cur.rowcount)

    async def mark_counts(self, meeting_id: int) -> dict[str, int]:
        async with self._conn.execute(
            "SELECT mark, COUNT(*) FROM meeting_marks WHERE meeting_id = ? GROUP BY mark",
            (meeting_id,),
        ) as cur:
            counts = {str(r[0]): int(r[1]) for r in await cur.fetchall()}
        return {"coming": counts.get("coming", 0), "remind": counts.get("remind", 0)}

    async def marked_people(self, meeting_id: int) -> list[tuple[str, bytes]]:
        """Everyone who pressed "I'm coming" or "Remind me" (once each): they hear of changes."""
        async with self._conn.execute(
            "SELECT user_key, MIN(chat_enc) FROM meeting_marks WHERE meeting_id = ?"
            " GROUP BY user_key",
            (meeting_id,),
        ) as cur:
            return [(str(r[0]), bytes(r[1])) for r in await cur.fetchall()]

    async def due_meeting_reminders(self, now: int, ahead: int) -> list[tuple[int, str, bytes]]:
        """(meeting id, user key, chat) for "remind me" marks of active meetings starting
        within `ahead` seconds that have not been reminded yet."""
        async with self._conn.execute(
            "SELECT k.meeting_id, k.user_key, k.chat_enc FROM meeting_marks k"
            " JOIN meetings m ON m.id = k.meeting_id"
            " WHERE k.mark = 'remind' AND k.reminded = 0 AND m.status = 'active'"
            " AND m.starts_at > ? AND m.starts_at <= ?",
            (now, now + ahead),
        ) as cur:
            return [(int(r[0]), str(r[1]), bytes(r[2])) for r in await cur.fetchall()]

    async def mark_reminder_sent(self, meeting_id: int, user_key: str) -> None:
        await self._write(
            "UPDATE meeting_marks SET reminded = 1 WHERE meeting_id = ? AND user_key = ?"
            " AND mark = 'remind'",
            (meeting_id, user_key),
        )

    # --- digest queries ----------------------------------------------------------------------

    async def registration_cells(self) -> list[RegistrationCell]:
        """Every registration counted per place, kind of group, time and contact choice, with
        the earliest registration time: all a digest needs, in one GROUP BY, no user keys."""
        async with self._conn.execute(
            "SELECT region_id, municipality, group_kind, time_pref, contact_ok, COUNT(*),"
            " MIN(created_at) FROM registrations"
            " GROUP BY region_id, municipality, group_kind, time_pref, contact_ok"
        ) as cur:
            return [
                RegistrationCell(
                    str(r[0]), str(r[1]), str(r[2]), str(r[3]), bool(r[4]), int(r[5]), int(r[6])
                )
                for r in await cur.fetchall()
            ]

    # --- link statistics ---------------------------------------------------------------------

    async def count_link_start(self, municipality: str, region_id: str, week: int) -> None:
        """One more /start from this place's poster link in `week` (a press, not a person:
        nothing that could tell two presses apart is stored)."""
        async with self._lock:  # never commit half of another method's transaction
            await self._conn.execute(
                "INSERT INTO link_starts (municipality, region_id, week, n) VALUES (?, ?, ?, 1)"
                " ON CONFLICT (municipality, region_id, week) DO UPDATE SET n = n + 1",
                (municipality, region_id, week),
            )
            await self._conn.commit()

    async def link_starts(self, week: int) -> dict[tuple[str, str], int]:
        """(region id, municipality) -> link starts in `week`."""
        async with self._conn.execute(
            "SELECT region_id, municipality, n FROM link_starts WHERE week = ?", (week,)
        ) as cur:
            return {(str(r[0]), str(r[1])): int(r[2]) for r in await cur.fetchall()}


@dataclass(frozen=True)
class RegistrationCell:
    """How many registrations share one place, kind of group, time and contact choice."""

    region_id: str
    municipality: str  # '' when not listed
    group_kind: str
    time_pref: str
    contact_ok: bool
    n: int
    first_created: int  # the earliest created_at among them
