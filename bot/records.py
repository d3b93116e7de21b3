"""The plain rows storage hands out and takes in (no SQL, no database driver).

They live outside bot.storage so that pure modules (rules, figures, calendar files) can build and
read them without importing the database layer; bot.storage re-exports every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
