"""Role management's buttons: `adm:<action>[:<id>]`, always signed for the admin who sees
them (pure: no Telegram, no storage).

`adm:rv:<grant id>` asks to revoke a granted role, `adm:rk:<grant id>` revokes it, `adm:ls`
shows the list again; for unused invite links `adm:iv:<invite id>`, `adm:ik:<invite id>` and
`adm:il`. Ids are hash prefixes (bot.roles.role_links.grant_id, invite_id).
"""

from __future__ import annotations

from enum import StrEnum

from bot.chat.button_data import HEX, Press, Shape

PREFIX = "adm:"


class Action(StrEnum):
    ASK_REVOKE = "rv"
    REVOKE = "rk"
    LIST = "ls"
    ASK_REVOKE_INVITE = "iv"
    REVOKE_INVITE = "ik"
    LIST_INVITES = "il"


SHAPE = Shape(
    PREFIX,
    {
        Action.ASK_REVOKE: (HEX,),
        Action.REVOKE: (HEX,),
        Action.LIST: (),
        Action.ASK_REVOKE_INVITE: (HEX,),
        Action.REVOKE_INVITE: (HEX,),
        Action.LIST_INVITES: (),
    },
)


def data(action: Action, target: str = "") -> str:
    """`adm:<action>[:<id>]` (the handler signs it for the admin)."""
    return SHAPE.encode(action, target) if target else SHAPE.encode(action)


def decode(raw: str | None) -> Press | None:
    """The press of a verified `adm:` button (signature already checked), or None."""
    return SHAPE.decode(raw)
