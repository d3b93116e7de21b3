"""Who may do what: roles from config.yaml plus roles granted through invite links (domain).

Every privileged command and button calls `roles_for` again, on the server, every time.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import Config
from bot.records import RoleGrant

if TYPE_CHECKING:  # only named in annotations: the rules stay free of the database layer
    from bot.storage import Storage

ROLE_NAMES = ("admin", "coordinator", "office")


@dataclass(frozen=True)
class Roles:
    """What one person may do."""

    admin: bool = False
    municipalities: frozenset[str] = frozenset()  # coordinator of these (config names)
    regions: frozenset[str] = frozenset()  # regional office for these region ids

    @property
    def is_coordinator(self) -> bool:
        return bool(self.municipalities)

    @property
    def is_office(self) -> bool:
        return bool(self.regions)

    @property
    def privileged(self) -> bool:
        return self.admin or self.is_coordinator or self.is_office

    def covers(self, municipality: str) -> bool:
        return municipality in self.municipalities


def config_role_ids(config: Config) -> set[int]:
    """Telegram ids of everyone config.yaml gives a role (admins, coordinators, offices)."""
    return (
        set(config.admins)
        | {c.user_id for c in config.coordinators}
        | {o.user_id for o in config.offices}
    )


def roles_from_config(config: Config, telegram_user_id: int) -> Roles:
    munis = {
        m for c in config.coordinators if c.user_id == telegram_user_id for m in c.municipalities
    }
    regions = {o.region for o in config.offices if o.user_id == telegram_user_id}
    return Roles(telegram_user_id in config.admins, frozenset(munis), frozenset(regions))


def merge(config_roles: Roles, grants: list[RoleGrant], config: Config) -> Roles:
    """Config roles plus valid grants (a grant naming something no longer in config is ignored)."""
    known_munis = {m.name for m in config.municipalities}
    known_regions = {r.id for r in config.regions}
    munis = set(config_roles.municipalities)
    regions = set(config_roles.regions)
    admin = config_roles.admin
    for g in grants:
        if g.role == "admin":
            admin = True
        elif g.role == "coordinator" and g.scope in known_munis:
            munis.add(g.scope)
        elif g.role == "office" and g.scope in known_regions:
            regions.add(g.scope)
    return Roles(admin, frozenset(munis), frozenset(regions))


async def roles_for(
    config: Config, storage: Storage, user_key: str, telegram_user_id: int
) -> Roles:
    """The person's roles right now (config.yaml and granted), checked on every use."""
    return merge(
        roles_from_config(config, telegram_user_id), await storage.roles_of(user_key), config
    )


async def key_covers(
    config: Config,
    storage: Storage,
    user_key_of: Callable[[int], str],
    user_key: str,
    municipality: str,
) -> bool:
    """Whether the person behind `user_key` coordinates `municipality` right now, for when
    only their key is known (e.g. the sender of an invitation, before a contact is shared)."""
    for coordinator in config.coordinators:
        if municipality in coordinator.municipalities and user_key_of(coordinator.user_id) == (
            user_key
        ):
            return True
    grants = await storage.roles_of(user_key)
    return any(g.role == "coordinator" and g.scope == municipality for g in grants)


def new_invite_token() -> tuple[str, str]:
    """(token for the link, hash to store): the database never holds a usable token."""
    token = secrets.token_urlsafe(18)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
