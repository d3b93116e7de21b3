"""The database schema: MIGRATIONS (the one list, append-only), the version a database is at,
and migrating it forward. `PRAGMA user_version` holds how many entries have run."""

from __future__ import annotations

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


async def schema_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def migrate(conn: aiosqlite.Connection) -> None:
    """Run the entries the database has not had yet, each in its own transaction."""
    version = await schema_version(conn)
    for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
        await conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {target}; COMMIT;")
