"""The one package that owns the database: aiosqlite connection, WAL, migrations and ALL SQL.

`Storage` is the facade the rest of the code uses; its methods live with their aggregate:
  schema.py         MIGRATIONS (append-only), schema_version, migrate
  base.py           open/close, the write lock and `_write`, checkpoints, the in-memory mirrors,
                    the clock helpers, `day_floor`
  residents.py      language, resident rows, flow state
  registrations.py  registrations, tallies, reminders, expiry, retention, cells for snapshots
  roles.py          role grants, role links (invites)
  outbox.py         enqueue, due rows, begin/end send, outcomes, progress, purge, health totals
  invitations.py    start-meeting invitations, answers, anonymous answer counts
  meetings.py       meetings, marks, recipients, opt-outs, subscriptions
  snapshots.py      daily snapshots, poster-link starts, tally purging
  erase.py          the ONE every-table erase (/forget)
  backup.py         online backups and restore
The rows it hands out live in bot.records (no SQL there) and are re-exported here.
"""

from __future__ import annotations

from bot.records import (
    EventTally,
    Invitation,
    Meeting,
    OutboxRow,
    PendingInvite,
    Registration,
    RegistrationCell,
    RoleGrant,
)
from bot.storage.base import CHECKPOINT_TRIES, TOMBSTONE_SECONDS, StorageBase, day_floor
from bot.storage.erase import FORGET_WAITS_FOR_SEND, ErasureMixin
from bot.storage.invitations import InvitationsMixin
from bot.storage.meetings import MeetingsMixin
from bot.storage.outbox import OutboxMixin
from bot.storage.registrations import REGISTRATION_CAMPAIGNS, RegistrationsMixin
from bot.storage.residents import ResidentsMixin
from bot.storage.roles import RolesMixin
from bot.storage.schema import MIGRATIONS
from bot.storage.snapshots import SnapshotsMixin

__all__ = [
    "CHECKPOINT_TRIES",
    "FORGET_WAITS_FOR_SEND",
    "MIGRATIONS",
    "REGISTRATION_CAMPAIGNS",
    "TOMBSTONE_SECONDS",
    "EventTally",
    "Invitation",
    "Meeting",
    "OutboxRow",
    "PendingInvite",
    "Registration",
    "RegistrationCell",
    "RoleGrant",
    "Storage",
    "day_floor",
]


class Storage(
    ErasureMixin,
    RegistrationsMixin,
    RolesMixin,
    OutboxMixin,
    MeetingsMixin,
    SnapshotsMixin,
    ResidentsMixin,
    InvitationsMixin,
    StorageBase,
):
    """Typed async access to the bot's SQLite database (`Storage.open`).

    One connection serves the whole process (aiosqlite runs it on its own thread), so writers
    never meet "database is locked"; multi-statement changes hold `_lock` to stay atomic.
    """
