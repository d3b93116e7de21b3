"""The one module that owns the database: aiosqlite connection, WAL, migrations and ALL SQL."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from bot.security.file_modes import make_private_database

log = logging.getLogger(__name__)


def day_floor(ts: float, tz: ZoneInfo) -> int:
    """Local midnight at the start of the day of `ts`. Times that say when a resident did
    something (registered, changed, chose a language, followed meetings, got reminded) are
    stored this coarse: the bot only ever needs their day ("registered on", expiry, digest
    days and weeks), and a day cannot be joined with the to-the-second times of log lines
    (issue 10, F10). Times of coordinators, offices and admins stay exact."""
    day = datetime.fromtimestamp(ts, tz).date()
    return int(datetime.combine(day, time(0, 0), tz).timestamp())


# Erasure (issue 10). Outbox campaigns that exist only because of a registration: withdrawal and
# expiry drop a person's rows of these (announcements stay while they still follow meetings).
REGISTRATION_CAMPAIGNS = ("invitation:", "reminder:")
TOMBSTONE_SECONDS = 3600.0  # /forget refuses new outbox rows to the person this long (memory)
FORGET_WAITS_FOR_SEND = 60.0  # at most this long for a request to them already under way
CHECKPOINT_TRIES = 20
# Outbox campaigns about one meeting that must not go out once it is cancelled (or, for a
# reminder, moved): 'meeting:<id>', 'meeting:<id>:v<n>', 'meeting-reminder:<id>:<starts_at>'.
# 'meeting:<id>:cancel' (the cancellation notice) is not matched.
_MEETING_CAMPAIGN = re.compile(r"^(meeting|meeting-reminder):([0-9]{1,12})(:v[0-9]+|:[0-9]+)?$")

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
    # issue 10 (figures that cannot be probed): the day's fixed aggregate figures. Everything a
    # coordinator, office or admin sees about a place is read from here, never from live rows.
    """
    CREATE TABLE snapshots (              -- aggregates only: no user key, no single registration
        day      INTEGER PRIMARY KEY,     -- days since 1970-01-01 in the deployment's time zone
        taken_at INTEGER NOT NULL,
        data     TEXT NOT NULL            -- JSON: counts per place and cell (bot.digest.snapshots)
    );
    """,
    # issue 10 (erased means erased): answers of people who withdrew, expired or forgot live on
    # only as counts; and whether a language was chosen (kept) or just taken along (erased).
    """
    CREATE TABLE invitation_tallies (     -- anonymous answer counts: no user key, ever
        invitation_id INTEGER NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
        answer        TEXT NOT NULL,      -- 'yes', 'maybe', 'no', 'none' (shared only)
        n             INTEGER NOT NULL,
        shared        INTEGER NOT NULL,   -- how many of them had shared their contact
        PRIMARY KEY (invitation_id, answer)
    ) WITHOUT ROWID;
    ALTER TABLE residents ADD COLUMN lang_chosen INTEGER NOT NULL DEFAULT 0;  -- 1: /language
    """,
    # issue 10 (smaller findings): poster-link starts counted once per person and week; who
    # made an invite link (to tell them when it is used) and when.
    """
    CREATE TABLE link_start_seen (        -- deleted when the week is over
        tag  TEXT PRIMARY KEY,            -- keyed hash of (person, place, week); the key is
                                          -- random per week and lives only in memory
        week INTEGER NOT NULL
    ) WITHOUT ROWID;
    ALTER TABLE invites ADD COLUMN created_by TEXT;    -- the admin's user key; NULL once used
    ALTER TABLE invites ADD COLUMN creator_chat BLOB;  -- their encrypted chat; NULL once used
    ALTER TABLE invites ADD COLUMN created_at INTEGER;
    """,
    # issue 11 (meetings that reach people): who each meeting was sent or shown to (so a change
    # or cancellation reaches exactly them), and the registered place a resident stopped
    # meetings for (their yes to messages still covers start-meeting invitations).
    """
    CREATE TABLE meeting_recipients (     -- user key only; goes with the meeting's marks,
        meeting_id INTEGER NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,  -- /forget
        user_key   TEXT NOT NULL,         -- and when nothing needs the residents row
        PRIMARY KEY (meeting_id, user_key)
    ) WITHOUT ROWID;
    CREATE TABLE meeting_optouts (        -- "no meetings" for the place one registered in
        user_key     TEXT NOT NULL,
        region_id    TEXT NOT NULL,
        municipality TEXT NOT NULL,
        PRIMARY KEY (user_key, region_id, municipality)
    ) WITHOUT ROWID;
    """,
    # issue 11 (a way for each role): the admin's own label for a role link ("Kari på
    # biblioteket"), encrypted; it moves to the grant when the link is used and goes with it.
    """
    ALTER TABLE invites ADD COLUMN note_enc BLOB;  -- NULL once used, revoked or expired
    ALTER TABLE roles ADD COLUMN note_enc BLOB;    -- deleted with the role (and by /forget)
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
    note_enc: bytes | None = None  # the admin's label for the link, encrypted (ChatCipher)


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


def _role_grant(r: Sequence[Any]) -> RoleGrant:
    note = None if r[5] is None else bytes(r[5])
    return RoleGrant(str(r[0]), str(r[1]), str(r[2]), bytes(r[3]), int(r[4]), note)


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
    ) -> Storage:
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

    def _coarse(self, ts: float | None = None) -> int:
        """`ts` (default: now) as the local midnight it falls after: see `day_floor`."""
        return day_floor(self._clock() if ts is None else ts, self._tz)

    # --- residents ---------------------------------------------------------------------------

    async def get_language(self, user_key: str) -> str | None:
        """The language a resident chose with /language, or None."""
        return self._languages.get(user_key)

    async def set_language(self, user_key: str, lang: str, *, chosen: bool = True) -> None:
        """Store the person's language. `chosen=False` for a language only taken along (the one
        they registered or followed meetings in): it goes when nothing else needs the row,
        while a chosen one (/language, an English poster) stays until /forget."""
        now = self._coarse()
        await self._write(
            "INSERT INTO residents (user_key, lang, created_at, updated_at, lang_chosen)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(user_key) DO UPDATE SET lang = excluded.lang,"
            " updated_at = excluded.updated_at,"
            " lang_chosen = MAX(residents.lang_chosen, excluded.lang_chosen)",
            (user_key, lang, now, now, int(chosen)),
        )
        self._languages[user_key] = lang

    async def forget_resident(self, user_key: str, week: int | None = None) -> int:
        """Erase every row about the person, in every table; returns how many rows went.

        A registration that goes this way is tallied as withdrawn (anonymously) first, and
        invitation answers become anonymous counts, so digests and a coordinator's figures stay
        right without keeping anything about who it was. Then the WAL is checkpointed (no old
        copy stays in any file) and, before returning, any message to them already under way
        has landed: nothing reaches them once /forget is confirmed.
        """
        self._tombstone(user_key)
        self._languages.pop(user_key, None)
        self._flows.pop(user_key, None)
        async with self._lock:
            reg = await self._get_registration(user_key)
            if reg is not None and week is not None:
                await self._tally(reg.municipality, reg.region_id, week, "withdrawn")
            removed = await self._fold_answers("user_key = ?", (user_key,))
            for sql in (
                "DELETE FROM residents WHERE user_key = ?",
                "DELETE FROM flow_state WHERE user_key = ?",
                "DELETE FROM registrations WHERE user_key = ?",
                "DELETE FROM roles WHERE user_key = ?",
                "DELETE FROM invitation_answers WHERE user_key = ?",
                "DELETE FROM outbox WHERE recipient = ?",
                "DELETE FROM subscriptions WHERE user_key = ?",
                "DELETE FROM meeting_marks WHERE user_key = ?",
                "DELETE FROM meeting_recipients WHERE user_key = ?",
                "DELETE FROM meeting_optouts WHERE user_key = ?",
                # As a coordinator: their invitations (answers go with them); as an office: the
                # meetings stay for the residents who follow them, but no longer point to them.
                "DELETE FROM invitations WHERE sender_key = ?",
                "UPDATE meetings SET office_key = '', office_chat = x'' WHERE office_key = ?",
                # As an admin: their open invite links still work, but nobody is told of a use.
                "UPDATE invites SET created_by = NULL, creator_chat = NULL WHERE created_by = ?",
            ):
                cur = await self._conn.execute(sql, (user_key,))
                removed += cur.rowcount or 0
            await self._conn.commit()
            await self._checkpoint()
        await self._wait_for_sends(user_key)
        return removed

    def _tombstone(self, user_key: str) -> None:
        now = float(self._clock())
        self._tombstones = {
            k: t for k, t in self._tombstones.items() if t > now - TOMBSTONE_SECONDS
        }
        self._tombstones[user_key] = now

    def _erased(self, user_key: str) -> bool:
        """Whether the person ran /forget within TOMBSTONE_SECONDS and has not come back."""
        at = self._tombstones.get(user_key)
        return at is not None and at > float(self._clock()) - TOMBSTONE_SECONDS

    async def _wait_for_sends(self, user_key: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FORGET_WAITS_FOR_SEND
        while self._sending.get(user_key):
            self._send_landed.clear()
            try:
                await asyncio.wait_for(self._send_landed.wait(), deadline - loop.time())
            except TimeoutError:
                log.warning("erasure: a message under way did not land in time")
                return

    async def begin_send(self, row_id: int, recipient: str) -> str | None:
        """Right before a request: None if the outbox row is still pending and its recipient
        not erased (the request then counts as under way until `end_send`); otherwise why not:
        the row's status now ('blocked', ...) or 'gone' (erased or deleted meanwhile)."""
        async with self._lock:
            if self._erased(recipient):
                return "gone"
            async with self._conn.execute(
                "SELECT status, campaign FROM outbox WHERE id = ?", (row_id,)
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return "gone"
            if row[0] != "pending":
                return str(row[0])
            if await self._meeting_moved_on(str(row[1])):
                await self._conn.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
                await self._conn.commit()
                return "gone"
            self._sending[recipient] = self._sending.get(recipient, 0) + 1
            return None

    async def _meeting_moved_on(self, campaign: str) -> bool:
        """Whether a queued message about a meeting no longer holds: its announcement, change
        or reminder once the meeting is cancelled, a reminder of a start time the
        meeting no longer has. Cancellation notices always go. Under `_lock`."""
        match = _MEETING_CAMPAIGN.match(campaign)
        if match is None:
            return False
        async with self._conn.execute(
            "SELECT status, starts_at FROM meetings WHERE id = ?", (int(match.group(2)),)
        ) as cur:
            row = await cur.fetchone()
        if row is None:  # meetings are never deleted: not a meeting's campaign after all
            return False
        if row[0] != "active":
            return True
        return match.group(1) == "meeting-reminder" and match.group(3) != f":{row[1]}"

    def end_send(self, recipient: str) -> None:
        """The request `begin_send` allowed has landed (whatever its outcome)."""
        left = self._sending.get(recipient, 0) - 1
        if left > 0:
            self._sending[recipient] = left
        else:
            self._sending.pop(recipient, None)
        self._send_landed.set()

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

    async def _fold_answers(self, where: str, args: Sequence[Any]) -> int:
        """Turn the invitation answers matching `where` into anonymous counts and delete them;
        how many went. Under `_lock`, committed by the caller."""
        await self._conn.execute(
            "INSERT INTO invitation_tallies (invitation_id, answer, n, shared)"
            " SELECT invitation_id, answer, COUNT(*), SUM(shared) FROM invitation_answers"
            f" WHERE {where} GROUP BY invitation_id, answer"
            " ON CONFLICT (invitation_id, answer) DO UPDATE SET n = n + excluded.n,"
            " shared = shared + excluded.shared",
            args,
        )
        cur = await self._conn.execute(f"DELETE FROM invitation_answers WHERE {where}", args)
        return cur.rowcount or 0

    async def _prune_resident(self, user_key: str) -> bool:
        """Drop the residents row (language, encrypted chat id) when nothing needs it any more:
        no registration, no meetings followed, no "coming"/"remind me" mark, no role. A chosen
        language stays (without the chat id); a language only taken along goes, and with the
        row any message still queued to them. True when something went. Under `_lock`."""
        async with self._conn.execute(
            "SELECT lang_chosen FROM residents WHERE user_key = ?"
            " AND NOT EXISTS (SELECT 1 FROM registrations WHERE user_key = ?)"
            " AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE user_key = ?)"
            " AND NOT EXISTS (SELECT 1 FROM meeting_marks WHERE user_key = ?)"
            " AND NOT EXISTS (SELECT 1 FROM roles WHERE user_key = ?)",
            (user_key,) * 5,
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return False
        if row[0]:
            await self._conn.execute(
                "UPDATE residents SET chat_enc = NULL WHERE user_key = ?", (user_key,)
            )
        else:
            await self._conn.execute("DELETE FROM residents WHERE user_key = ?", (user_key,))
            self._languages.pop(user_key, None)
        await self._conn.execute("DELETE FROM outbox WHERE recipient = ?", (user_key,))
        for table in ("meeting_recipients", "meeting_optouts"):  # nothing can reach them now
            await self._conn.execute(f"DELETE FROM {table} WHERE user_key = ?", (user_key,))
        return True

    async def has_resident(self, user_key: str) -> bool:
        async with self._conn.execute(
            "SELECT 1 FROM residents WHERE user_key = ?", (user_key,)
        ) as cur:
            return await cur.fetchone() is not None

    async def ensure_resident(self, user_key: str, chat_enc: bytes | None = None) -> None:
        """Create the resident row if missing; store the (encrypted) chat id when given."""
        self._tombstones.pop(user_key, None)  # they came back after /forget
        now = self._coarse()
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
            (user_key, flow, encoded, self._coarse()),
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
                    reg.time_pref, int(reg.contact_ok), self._coarse(reg.created_at),
                    self._coarse(reg.updated_at), self._coarse(reg.expires_at),
                    None if reg.reminded_at is None else self._coarse(reg.reminded_at),
                ),
            )  # fmt: skip
            await self._conn.commit()

    async def remove_registration(
        self, user_key: str, week: int, kind: str, *, checkpoint: bool = True
    ) -> bool:
        """Withdraw ('withdrawn') or expire ('expired') a registration, tallying it, with all
        that only served it: the interest form in progress, invitation answers (kept only as
        anonymous counts), queued and delivered invitations and reminders, and the residents
        row unless something else still needs it (see `_prune_resident`). Then the WAL is
        checkpointed, unless the caller does it once for many (`checkpoint()`)."""
        async with self._lock:
            old = await self._get_registration(user_key)
            if old is None:
                return False
            await self._tally(old.municipality, old.region_id, week, kind)
            await self._conn.execute("DELETE FROM registrations WHERE user_key = ?", (user_key,))
            await self._conn.execute("DELETE FROM meeting_optouts WHERE user_key = ?", (user_key,))
            await self._conn.execute(
                "DELETE FROM flow_state WHERE user_key = ? AND flow = 'interest'", (user_key,)
            )
            await self._fold_answers("user_key = ?", (user_key,))
            for prefix in REGISTRATION_CAMPAIGNS:
                await self._conn.execute(
                    "DELETE FROM outbox WHERE recipient = ? AND substr(campaign, 1, ?) = ?",
                    (user_key, len(prefix), prefix),
                )
            await self._prune_resident(user_key)
            await self._conn.commit()
            if checkpoint:
                await self._checkpoint()
        state = self._flows.get(user_key)
        if state is not None and state[0] == "interest":
            self._flows.pop(user_key, None)
        return True

    async def checkpoint(self) -> None:
        """Checkpoint the WAL now (after a batch of erasures made with checkpoint=False)."""
        async with self._lock:
            await self._checkpoint()

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
            (self._coarse(), user_key),
        )

    async def extend_registration(self, user_key: str, expires_at: int) -> int | None:
        """Keep a registration longer (the resident answered the reminder); new expiry or None
        (stored, like every resident time, as its day: `day_floor`)."""
        expires_at = self._coarse(expires_at)
        cur = await self._write(
            "UPDATE registrations SET expires_at = ?, reminded_at = NULL, updated_at = ?"
            " WHERE user_key = ?",
            (expires_at, self._coarse(), user_key),
        )
        return expires_at if cur.rowcount else None

    async def registrations_expired(self, now: int) -> list[str]:
        async with self._conn.execute(
            "SELECT user_key FROM registrations WHERE expires_at <= ?", (now,)
        ) as cur:
            return [str(r[0]) for r in await cur.fetchall()]

    async def sweep_leftovers(self, meetings_before: int, flows_before: int) -> int:
        """Erase what no longer serves anyone (the retention job): invitation answers that can
        no longer change (their outbox row was purged) become anonymous counts; "coming" and
        "remind me" marks of meetings that started before `meetings_before` go, with residents
        rows nothing needs any more; forms left unfinished since `flows_before` go. Returns
        how many rows went (checkpoint afterwards)."""
        async with self._lock:
            removed = await self._fold_answers(
                "NOT EXISTS (SELECT 1 FROM outbox o"
                " WHERE o.recipient = invitation_answers.user_key"
                " AND o.campaign = 'invitation:' || invitation_answers.invitation_id)",
                (),
            )
            async with self._conn.execute(
                "SELECT DISTINCT k.user_key FROM meeting_marks k JOIN meetings m"
                " ON m.id = k.meeting_id WHERE m.starts_at < ?",
                (meetings_before,),
            ) as cur:
                marked = [str(r[0]) for r in await cur.fetchall()]
            cur = await self._conn.execute(
                "DELETE FROM meeting_marks WHERE meeting_id IN"
                " (SELECT id FROM meetings WHERE starts_at < ?)",
                (meetings_before,),
            )
            removed += cur.rowcount or 0
            cur = await self._conn.execute(  # who a meeting went to, once it is over
                "DELETE FROM meeting_recipients WHERE meeting_id IN"
                " (SELECT id FROM meetings WHERE starts_at < ?)",
                (meetings_before,),
            )
            removed += cur.rowcount or 0
            for user_key in marked:
                removed += await self._prune_resident(user_key)
            async with self._conn.execute(
                "SELECT user_key FROM flow_state WHERE updated_at < ?", (flows_before,)
            ) as cur:
                stale = [str(r[0]) for r in await cur.fetchall()]
            await self._conn.execute(
                "DELETE FROM flow_state WHERE updated_at < ?", (flows_before,)
            )
            for user_key in stale:
                self._flows.pop(user_key, None)
            removed += len(stale)
            await self._conn.commit()
        return removed

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
        self._tombstones.pop(grant.user_key, None)  # came back after /forget
        await self._write(
            "INSERT OR REPLACE INTO roles (user_key, role, scope, chat_enc, created_at, note_enc)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                grant.user_key,
                grant.role,
                grant.scope,
                grant.chat_enc,
                grant.created_at,
                grant.note_enc,
            ),
        )

    async def roles_of(self, user_key: str) -> list[RoleGrant]:
        async with self._conn.execute(
            "SELECT user_key, role, scope, chat_enc, created_at, note_enc FROM roles"
            " WHERE user_key = ?",
            (user_key,),
        ) as cur:
            return [_role_grant(r) for r in await cur.fetchall()]

    async def all_roles(self) -> list[RoleGrant]:
        async with self._conn.execute(
            "SELECT user_key, role, scope, chat_enc, created_at, note_enc FROM roles"
            " ORDER BY role, scope, created_at"
        ) as cur:
            return [_role_grant(r) for r in await cur.fetchall()]

    async def revoke_role(self, user_key: str, role: str, scope: str) -> bool:
        cur = await self._write(
            "DELETE FROM roles WHERE user_key = ? AND role = ? AND scope = ?",
            (user_key, role, scope),
        )
        return bool(cur.rowcount)

    async def create_invite(
        self,
        token_hash: str,
        role: str,
        scope: str,
        expires_at: int,
        created_by: str | None = None,
        creator_chat: bytes | None = None,
        note_enc: bytes | None = None,
    ) -> None:
        """Store an invite by its token's hash, with who made it (to tell them when it is used)
        and the admin's encrypted label for it."""
        await self._write(
            "INSERT INTO invites (token_hash, role, scope, expires_at, created_by, creator_chat,"
            " created_at, note_enc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (token_hash, role, scope, expires_at, created_by, creator_chat, self._now(), note_enc),
        )

    async def pending_invites(self, now: int) -> list[PendingInvite]:
        """Unused, unexpired invites, the soonest to expire first."""
        async with self._conn.execute(
            "SELECT token_hash, role, scope, expires_at, created_at, note_enc FROM invites"
            " WHERE used_at IS NULL AND expires_at > ? ORDER BY expires_at, token_hash",
            (now,),
        ) as cur:
            return [
                PendingInvite(
                    str(r[0]),
                    str(r[1]),
                    str(r[2]),
                    int(r[3]),
                    None if r[4] is None else int(r[4]),
                    None if r[5] is None else bytes(r[5]),
                )
                for r in await cur.fetchall()
            ]

    async def take_invite_note(self, token_hash: str) -> bytes | None:
        """The encrypted label of a used invite, erased from it as it is read (it lives on
        only with the grant)."""
        async with self._lock:
            async with self._conn.execute(
                "SELECT note_enc FROM invites WHERE token_hash = ? AND used_at IS NOT NULL",
                (token_hash,),
            ) as cur:
                row = await cur.fetchone()
            await self._conn.execute(
                "UPDATE invites SET note_enc = NULL WHERE token_hash = ?", (token_hash,)
            )
            await self._conn.commit()
        return None if row is None or row[0] is None else bytes(row[0])

    async def drop_expired_invite_notes(self, now: int) -> int:
        """Labels of links that can no longer be used go (a used link's went to its grant);
        returns how many."""
        cur = await self._write(
            "UPDATE invites SET note_enc = NULL WHERE note_enc IS NOT NULL AND expires_at <= ?",
            (now,),
        )
        return cur.rowcount or 0

    async def revoke_invite(self, token_hash: str) -> bool:
        """Delete an unused invite, so its link grants nothing; False if used or gone."""
        cur = await self._write(
            "DELETE FROM invites WHERE token_hash = ? AND used_at IS NULL", (token_hash,)
        )
        return bool(cur.rowcount)

    async def take_invite_creator(self, token_hash: str) -> tuple[str, bytes] | None:
        """(user key, encrypted chat) of whoever made this used invite, forgotten as it is read:
        they are told once, and the row no longer points to them."""
        async with self._lock:  # RETURNING would give the values after the update: read first
            async with self._conn.execute(
                "SELECT created_by, creator_chat FROM invites WHERE token_hash = ?"
                " AND used_at IS NOT NULL AND created_by IS NOT NULL",
                (token_hash,),
            ) as cur:
                row = await cur.fetchone()
            await self._conn.execute(
                "UPDATE invites SET created_by = NULL, creator_chat = NULL WHERE token_hash = ?",
                (token_hash,),
            )
            await self._conn.commit()
        if row is None or row[1] is None:
            return None
        return str(row[0]), bytes(row[1])

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
        skipped, which makes enqueueing idempotent across restarts; so is a person who ran
        /forget after the caller read them (a tombstone). Returns rows added."""
        data = [
            (campaign, recipient, chat, json.dumps(payload, ensure_ascii=False))
            for recipient, chat, payload in rows
            if not self._erased(recipient)
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
        """Answers per kind and contacts shared: live answers plus the anonymous counts of
        people who withdrew, expired or forgot (`invitation_tallies`)."""
        async with self._conn.execute(
            "SELECT answer, SUM(n), SUM(shared) FROM ("
            " SELECT answer, 1 AS n, shared FROM invitation_answers WHERE invitation_id = ?"
            " UNION ALL"
            " SELECT answer, n, shared FROM invitation_tallies WHERE invitation_id = ?"
            ") GROUP BY answer",
            (invitation_id, invitation_id),
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
            (user_key, region_id, municipality, self._coarse()),
        )
        return bool(cur.rowcount)

    async def unsubscribe(
        self, user_key: str, region_id: str | None = None, municipality: str | None = None
    ) -> int:
        """Stop one subscription, or all of them when no place is given. Following nothing
        any more (and nothing else needing it), the residents row goes too."""
        async with self._lock:
            if region_id is None:
                cur = await self._conn.execute(
                    "DELETE FROM subscriptions WHERE user_key = ?", (user_key,)
                )
            else:
                cur = await self._conn.execute(
                    "DELETE FROM subscriptions WHERE user_key = ? AND region_id = ?"
                    " AND municipality = ?",
                    (user_key, region_id, municipality or ""),
                )
            pruned = await self._prune_resident(user_key)
            await self._conn.commit()
            if pruned:
                await self._checkpoint()
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

    async def registered_for_meetings(
        self, region_id: str, municipalities: Sequence[str]
    ) -> list[tuple[str, bytes]]:
        """(user key, encrypted chat) of active residents registered in these places who said
        yes to messages and did not stop meetings there (issue 11: that yes covers them)."""
        marks = ",".join("?" for _ in municipalities) or "NULL"
        async with self._conn.execute(
            "SELECT r.user_key, p.chat_enc FROM registrations r"
            " JOIN residents p ON p.user_key = r.user_key"
            " WHERE r.region_id = ? AND r.contact_ok = 1 AND p.active = 1"
            f" AND p.chat_enc IS NOT NULL AND r.municipality IN ({marks})"
            " AND NOT EXISTS (SELECT 1 FROM meeting_optouts o WHERE o.user_key = r.user_key"
            " AND o.region_id = r.region_id AND o.municipality = r.municipality)",
            (region_id, *municipalities),
        ) as cur:
            return [(str(r[0]), bytes(r[1])) for r in await cur.fetchall()]

    async def registered_meeting_place(self, user_key: str) -> tuple[str, str] | None:
        """(region, municipality) whose meetings the person gets through their registration:
        registered there (a listed municipality), yes to messages, not stopped."""
        async with self._conn.execute(
            "SELECT r.region_id, r.municipality FROM registrations r WHERE r.user_key = ?"
            " AND r.contact_ok = 1 AND r.municipality != ''"
            " AND NOT EXISTS (SELECT 1 FROM meeting_optouts o WHERE o.user_key = r.user_key"
            " AND o.region_id = r.region_id AND o.municipality = r.municipality)",
            (user_key,),
        ) as cur:
            row = await cur.fetchone()
        return (str(row[0]), str(row[1])) if row else None

    async def set_meeting_optout(
        self, user_key: str, region_id: str, municipality: str, stopped: bool
    ) -> None:
        """Stop (or start again) meetings for the place the person registered in."""
        if stopped:
            await self._write(
                "INSERT OR IGNORE INTO meeting_optouts (user_key, region_id, municipality)"
                " VALUES (?, ?, ?)",
                (user_key, region_id, municipality),
            )
        else:
            await self._write(
                "DELETE FROM meeting_optouts WHERE user_key = ? AND region_id = ?"
                " AND municipality = ?",
                (user_key, region_id, municipality),
            )

    async def add_meeting_recipients(self, meeting_id: int, user_keys: Iterable[str]) -> None:
        """Remember who a meeting was sent or shown to (user keys only)."""
        rows = [(meeting_id, key) for key in user_keys if not self._erased(key)]
        async with self._lock:
            await self._conn.executemany(
                "INSERT OR IGNORE INTO meeting_recipients (meeting_id, user_key) VALUES (?, ?)",
                rows,
            )
            await self._conn.commit()

    async def meeting_recipients(self, meeting_id: int) -> list[tuple[str, bytes]]:
        """(user key, encrypted chat) of everyone the meeting was sent or shown to who can
        still be reached (not blocked, not erased)."""
        async with self._conn.execute(
            "SELECT k.user_key, p.chat_enc FROM meeting_recipients k"
            " JOIN residents p ON p.user_key = k.user_key"
            " WHERE k.meeting_id = ? AND p.active = 1 AND p.chat_enc IS NOT NULL",
            (meeting_id,),
        ) as cur:
            return [(str(r[0]), bytes(r[1])) for r in await cur.fetchall()]

    async def drop_meeting_queue(self, meeting_id: int) -> int:
        """On cancellation: queued (not yet sent) announcements, changes and reminders of the
        meeting go; whoever had not yet received its announcement is no longer a recipient."""
        async with self._lock:
            await self._conn.execute(
                "DELETE FROM meeting_recipients WHERE meeting_id = ? AND user_key IN"
                " (SELECT recipient FROM outbox WHERE campaign = ? AND status = 'pending')",
                (meeting_id, f"meeting:{meeting_id}"),
            )
            cur = await self._conn.execute(
                "DELETE FROM outbox WHERE status = 'pending' AND (campaign = ?"
                " OR substr(campaign, 1, ?) = ? OR substr(campaign, 1, ?) = ?)",
                (
                    f"meeting:{meeting_id}",
                    len(f"meeting:{meeting_id}:v"), f"meeting:{meeting_id}:v",
                    len(f"meeting-reminder:{meeting_id}:"), f"meeting-reminder:{meeting_id}:",
                ),
            )  # fmt: skip
            await self._conn.commit()
        return cur.rowcount or 0

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

    async def update_meeting(self, meeting: Meeting, *, rearm: bool = True) -> int:
        """Save changed fields (or status); returns the new version number. A new start time
        re-arms "remind me", so people are reminded before the meeting as it now is; with
        `rearm` False (it is now too close for a reminder: the change notice is the last word)
        every "remind me" counts as reminded instead."""
        async with self._lock:
            await self._update_meeting(meeting, rearm)
        async with self._conn.execute(
            "SELECT version FROM meetings WHERE id = ?", (meeting.id,)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _update_meeting(self, meeting: Meeting, rearm: bool = True) -> None:
        await self._conn.execute(
            "UPDATE meeting_marks SET reminded = ? WHERE mark = 'remind' AND meeting_id = ?"
            " AND ? != (SELECT starts_at FROM meetings WHERE id = ?)",
            (0 if rearm else 1, meeting.id, meeting.starts_at, meeting.id),
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

    async def has_mark(self, meeting_id: int, user_key: str) -> bool:
        """Whether the person marked this meeting ("coming" or "remind")."""
        async with self._conn.execute(
            "SELECT 1 FROM meeting_marks WHERE meeting_id = ? AND user_key = ? LIMIT 1",
            (meeting_id, user_key),
        ) as cur:
            return await cur.fetchone() is not None

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

    async def registration_cells(
        self, before: int, exclude: Iterable[str], long_before: int
    ) -> list[RegistrationCell]:
        """Registrations made before `before`, counted per place, kind of group and time, with
        how many of them were made before `long_before`: all a snapshot needs, in one GROUP
        BY, no user keys. `exclude`: user keys left out (people who hold a role)."""
        excluded = sorted(set(exclude))
        marks = ", ".join("?" * len(excluded))
        sql = (
            "SELECT region_id, municipality, group_kind, time_pref, COUNT(*),"
            " SUM(created_at < ?) FROM registrations WHERE created_at < ?"
            + (f" AND user_key NOT IN ({marks})" if excluded else "")
            + " GROUP BY region_id, municipality, group_kind, time_pref"
        )
        async with self._conn.execute(sql, (long_before, before, *excluded)) as cur:
            return [
                RegistrationCell(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), int(r[5]))
                for r in await cur.fetchall()
            ]

    # --- daily snapshots ---------------------------------------------------------------------

    async def purge_tallies(self, before_week: int) -> None:
        """Drop weekly tallies and poster-link counts older than any figure still shows."""
        async with self._lock:
            await self._conn.execute(
                "DELETE FROM registration_events WHERE week < ?", (before_week,)
            )
            await self._conn.execute("DELETE FROM link_starts WHERE week < ?", (before_week,))
            await self._conn.commit()

    async def get_snapshot(self, day: int) -> str | None:
        """The JSON of the day's snapshot, or None if it was not taken yet."""
        async with self._conn.execute("SELECT data FROM snapshots WHERE day = ?", (day,)) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else None

    async def save_snapshot(self, day: int, data: str, keep_days: int) -> str:
        """Store the day's snapshot unless one exists (the first one of a day stays, so a
        figure never changes within a day), drop those older than `keep_days`, and return the
        day's snapshot as stored."""
        async with self._lock:
            await self._conn.execute(
                "INSERT OR IGNORE INTO snapshots (day, taken_at, data) VALUES (?, ?, ?)",
                (day, self._now(), data),
            )
            await self._conn.execute("DELETE FROM snapshots WHERE day < ?", (day - keep_days,))
            await self._conn.commit()
        stored = await self.get_snapshot(day)
        return stored if stored is not None else data

    # --- link statistics ---------------------------------------------------------------------

    async def count_link_start(
        self, municipality: str, region_id: str, week: int, tag: str | None = None
    ) -> bool:
        """One more /start from this place's poster link in `week`, unless `tag` (a keyed hash
        of person, place and week, bot.security.pseudonyms.WeeklyTagger) was already counted this
        week.
        Tags of earlier weeks are deleted on the way. True if it counted."""
        async with self._lock:  # never commit half of another method's transaction
            await self._conn.execute("DELETE FROM link_start_seen WHERE week < ?", (week,))
            fresh = True
            if tag is not None:
                cur = await self._conn.execute(
                    "INSERT OR IGNORE INTO link_start_seen (tag, week) VALUES (?, ?)", (tag, week)
                )
                fresh = bool(cur.rowcount)
            if fresh:
                await self._conn.execute(
                    "INSERT INTO link_starts (municipality, region_id, week, n)"
                    " VALUES (?, ?, ?, 1) ON CONFLICT (municipality, region_id, week)"
                    " DO UPDATE SET n = n + 1",
                    (municipality, region_id, week),
                )
            await self._conn.commit()
        return fresh

    async def purge_link_start_tags(self, week: int) -> int:
        """Delete the deduplication tags of weeks before `week` (the week is over)."""
        cur = await self._write("DELETE FROM link_start_seen WHERE week < ?", (week,))
        return cur.rowcount or 0

    async def link_starts(self, week: int) -> dict[tuple[str, str], int]:
        """(region id, municipality) -> link starts in `week`."""
        async with self._conn.execute(
            "SELECT region_id, municipality, n FROM link_starts WHERE week = ?", (week,)
        ) as cur:
            return {(str(r[0]), str(r[1])): int(r[2]) for r in await cur.fetchall()}


@dataclass(frozen=True)
class PendingInvite:
    """An invite link nobody has opened yet (only its token's hash is stored)."""

    token_hash: str
    role: str
    scope: str
    expires_at: int
    created_at: int | None  # None for links made before this was recorded
    note_enc: bytes | None = None  # the admin's label for the link, encrypted (ChatCipher)


@dataclass(frozen=True)
class RegistrationCell:
    """How many registrations share one place, kind of group and time of day."""

    region_id: str
    municipality: str  # '' when not listed
    group_kind: str
    time_pref: str
    n: int
    n_long: int = 0  # how many of them registered before the `long_before` moment
