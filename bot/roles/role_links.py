"""Role invites and role management (domain): no Telegram here, only config, storage and time.

An admin's `/invite` yields a single-use token; only its SHA-256 is stored, so the database
never holds a usable link. Granted roles are listed by a short reference derived from the user
key, because no Telegram id is stored for them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.roles.lookup import hash_token, new_invite_token
from bot.storage import PendingInvite, RoleGrant, Storage

INVITE_PREFIX = "inv-"
# secrets.token_urlsafe(18) gives 24 characters; accept a little either way, never more than
# a /start payload can carry (64).
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,56}$")
DAY = 86400
REF_CHARS = 6  # shown to admins: enough to tell people apart, too short to mean anything
GRANT_ID_CHARS = 12  # carried in revoke buttons: unique in practice, fits in 64 bytes signed
INVITE_ID_CHARS = 12  # of the token's hash, carried in an invite link's revoke button
LIST_WORDS = ("list", "liste", "lenker", "links")  # `/invite list`: the unused links
NOTE_MAX_CHARS = 60  # an admin's label for a link: "Kari på biblioteket", not a letter

# Words an admin may type for each role (English, and the bokmål an admin would reach for).
ROLE_WORDS = {
    "coordinator": "coordinator",
    "koordinator": "coordinator",
    "kontaktperson": "coordinator",
    "office": "office",
    "kontor": "office",
    "regionkontor": "office",
    "admin": "admin",
    "administrator": "admin",
}


@dataclass(frozen=True)
class InviteRequest:
    """What an invite will grant: role and scope (municipality name, region id, '' for admin),
    and the admin's own label for whom it is for (stored encrypted with the link, then with
    the role, and erased with either)."""

    role: str
    scope: str
    note: str = ""


@dataclass(frozen=True)
class InviteProblem:
    """Why `/invite` arguments were refused: 'usage', 'municipality', 'region' or
    'note_too_long'."""

    reason: str
    given: str = ""


@dataclass(frozen=True)
class CreatedInvite:
    token: str
    role: str
    scope: str
    expires_at: int
    note: str = ""


@dataclass(frozen=True)
class ConfigRole:
    """A role from config.yaml: shown with its user id, changed only in the file."""

    user_id: int
    role: str
    scope: str


@dataclass(frozen=True)
class GrantedRole:
    """A role granted through an invite link, as an admin sees it."""

    grant_id: str
    ref: str
    role: str
    scope: str
    granted_at: int
    user_key: str
    note_enc: bytes | None = None  # the admin's label, encrypted (ChatCipher.decrypt_note)
    chat_enc: bytes = b""  # their encrypted chat: to update their command menu when revoked


# What an admin's press on a /roles button came to (flows/ has a note for gone, not_self and
# revoked under admin.roles.).
RevokeKind = Literal["list", "gone", "not_self", "confirm", "revoked"]


@dataclass(frozen=True)
class RevokeOutcome:
    """`grant` is the granted role the press named, for not_self, confirm and revoked."""

    kind: RevokeKind
    grant: GrantedRole | None = None


# What an admin's press on a pending invite link's button came to (notes under admin.invites.).
InviteKind = Literal["list", "gone", "confirm", "revoked"]


@dataclass(frozen=True)
class InviteOutcome:
    """`invite` is the pending link the press named, for confirm and revoked."""

    kind: InviteKind
    invite: PendingInvite | None = None


@dataclass(frozen=True)
class AcceptedInvite:
    """What opening an invite link did: the role granted (None: nothing), and whom to tell
    that their link was used ((user key, encrypted chat) of the admin who made it)."""

    grant: RoleGrant | None
    creator: tuple[str, bytes] | None = None
    ref: str = ""  # the link's short reference (bot.roles.role_links.invite_ref)


def _note(words: list[str]) -> str | None:
    """The label after the scope ("Kari på biblioteket"), without a leading dash or colon;
    None when it is too long."""
    note = " ".join(words).strip().lstrip("-\u2013\u2014:,;").strip()
    return note if len(note) <= NOTE_MAX_CHARS else None


def _scope_and_note(
    words: list[str], find: Callable[[str], str | None]
) -> tuple[str, list[str]] | None:
    """The longest run of leading words that names a scope, and the words after it."""
    for n in range(len(words), 0, -1):
        found = find(" ".join(words[:n]))
        if found is not None:
            return found, words[n:]
    return None


def parse_invite_args(config: Config, args: list[str]) -> InviteRequest | InviteProblem:
    """`/invite coordinator <municipality> [label]`, `/invite office <region> [label]` or
    `/invite admin [label]`; the label is the admin's own note of whom the link is for."""
    if not args or args[0].casefold() not in ROLE_WORDS:
        return InviteProblem("usage")
    role = ROLE_WORDS[args[0].casefold()]
    words = [w for w in args[1:] if w.strip()]
    if role == "admin":
        note = _note(words)
        return InviteProblem("note_too_long") if note is None else InviteRequest(role, "", note)
    if not words:
        return InviteProblem("usage")
    if role == "coordinator":
        found = _scope_and_note(
            words, lambda text: m.name if (m := config.places.find(text)) else None
        )
        missing = InviteProblem("municipality", " ".join(words))
    else:
        found = _scope_and_note(
            words, lambda text: r.id if (r := config.places.find_region(text)) else None
        )
        missing = InviteProblem("region", " ".join(words))
    if found is None:
        return missing
    scope, rest = found
    note = _note(rest)
    return InviteProblem("note_too_long") if note is None else InviteRequest(role, scope, note)


def scope_label(config: Config, role: str, scope: str) -> str:
    """What people read for a scope: the region's name for offices, the name otherwise."""
    if role == "office":
        region = config.region(scope)
        return region.name if region else scope
    return scope


def scope_is_known(config: Config, role: str, scope: str) -> bool:
    """Whether a grant still means something under the current config.yaml."""
    if role == "admin":
        return scope == ""
    if role == "coordinator":
        return config.municipality_named(scope) is not None
    return role == "office" and config.region(scope) is not None


def invite_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username}?start={INVITE_PREFIX}{token}"


def local_time(ts: float, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime(fmt)


async def create_invite(
    storage: Storage,
    config: Config,
    request: InviteRequest,
    now: float,
    creator: tuple[str, bytes] | None = None,
    note_enc: bytes | None = None,
) -> CreatedInvite:
    """A fresh single-use invite; the token goes into the link, only its hash into storage,
    with `creator` ((user key, encrypted chat) of the admin) to tell when it is used, and the
    admin's label for it (`note_enc`, request.note encrypted by the caller)."""
    token, token_hash = new_invite_token()
    expires_at = int(now) + config.invite_days * DAY
    by, chat = creator if creator is not None else (None, None)
    await storage.create_invite(
        token_hash, request.role, request.scope, expires_at, by, chat, note_enc
    )
    return CreatedInvite(token, request.role, request.scope, expires_at, request.note)


def is_list_request(args: list[str]) -> bool:
    return len(args) == 1 and args[0].casefold() in LIST_WORDS


def invite_ref(invite: PendingInvite | str) -> str:
    """The short reference admins see for a link (from its token's hash, which reveals
    nothing of the token)."""
    token_hash = invite if isinstance(invite, str) else invite.token_hash
    return token_hash[:REF_CHARS]


def invite_id(invite: PendingInvite) -> str:
    return invite.token_hash[:INVITE_ID_CHARS]


async def pending_invites(storage: Storage, now: float) -> list[PendingInvite]:
    """Links nobody has opened yet that still work."""
    return await storage.pending_invites(int(now))


async def invite_press(storage: Storage, now: float, action: str, wanted: str) -> InviteOutcome:
    """A verified admin's press: `iv` asks to revoke the pending link `wanted`, `ik` revokes
    it, anything else shows the list."""
    if action not in ("iv", "ik"):
        return InviteOutcome("list")
    found = next((i for i in await pending_invites(storage, now) if invite_id(i) == wanted), None)
    if found is None:
        return InviteOutcome("gone")
    if action == "iv":
        return InviteOutcome("confirm", found)
    if not await storage.revoke_invite(found.token_hash):
        return InviteOutcome("gone")  # used in the meantime
    return InviteOutcome("revoked", found)


def is_invite_payload(payload: str) -> bool:
    return payload.startswith(INVITE_PREFIX)


async def accept_invite(
    storage: Storage, config: Config, payload: str, user_key: str, chat_enc: bytes, now: float
) -> AcceptedInvite:
    """Consume the invite in a `/start inv-<token>` payload and grant its role.

    No grant (and nothing changed) for a malformed, unknown, used or expired token. A token
    whose role no longer fits config.yaml is consumed but grants nothing. The admin who made a
    used link is returned once, to be told; the link then no longer points to them.
    """
    token = payload.removeprefix(INVITE_PREFIX)
    if not is_invite_payload(payload) or not _TOKEN_RE.match(token):
        return AcceptedInvite(None)
    token_hash = hash_token(token)
    used = await storage.use_invite(token_hash, int(now))
    if used is None:
        return AcceptedInvite(None)
    creator = await storage.take_invite_creator(token_hash)
    note_enc = await storage.take_invite_note(token_hash)  # from now on only with the grant
    role, scope = used
    if not scope_is_known(config, role, scope):
        return AcceptedInvite(None)
    grant = RoleGrant(user_key, role, scope, chat_enc, int(now), note_enc)
    await storage.grant_role(grant)
    return AcceptedInvite(grant, creator, invite_ref(token_hash))


def config_roles(config: Config) -> list[ConfigRole]:
    """Every role config.yaml gives, admins first."""
    roles = [ConfigRole(uid, "admin", "") for uid in sorted(config.admins)]
    roles += [
        ConfigRole(c.user_id, "coordinator", m)
        for c in config.coordinators
        for m in c.municipalities
    ]
    roles += [ConfigRole(o.user_id, "office", o.region) for o in config.offices]
    return roles


def grant_id(user_key: str, role: str, scope: str) -> str:
    """A stable id for one grant: a button keeps meaning the same grant however the list moves."""
    digest = hashlib.sha256(f"{user_key}|{role}|{scope}".encode()).hexdigest()
    return digest[:GRANT_ID_CHARS]


def _granted(grant: RoleGrant) -> GrantedRole:
    return GrantedRole(
        grant_id(grant.user_key, grant.role, grant.scope),
        grant.user_key[:REF_CHARS],
        grant.role,
        grant.scope,
        grant.created_at,
        grant.user_key,
        grant.note_enc,
        grant.chat_enc,
    )


async def granted_roles(storage: Storage) -> list[GrantedRole]:
    return [_granted(g) for g in await storage.all_roles()]


async def find_grant(storage: Storage, wanted: str) -> GrantedRole | None:
    """The granted role a revoke button names, or None if it is gone (or never was)."""
    return next((g for g in await granted_roles(storage) if g.grant_id == wanted), None)


async def revoke_grant(storage: Storage, grant: GrantedRole) -> bool:
    return await storage.revoke_role(grant.user_key, grant.role, grant.scope)


async def revoke_press(
    storage: Storage, admin_key: str, action: str, wanted: str
) -> RevokeOutcome:
    """A verified admin's press: `rv` asks to revoke grant `wanted`, `rk` revokes it, anything
    else shows the list. Removing one's own admin grant could leave nobody able to manage
    roles, so it is refused."""
    if action not in ("rv", "rk"):
        return RevokeOutcome("list")
    grant = await find_grant(storage, wanted)
    if grant is None:
        return RevokeOutcome("gone")
    if grant.role == "admin" and grant.user_key == admin_key:
        return RevokeOutcome("not_self", grant)
    if action == "rv":
        return RevokeOutcome("confirm", grant)
    await revoke_grant(storage, grant)
    return RevokeOutcome("revoked", grant)
