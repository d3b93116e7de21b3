"""Roles granted through invite links, and the single-use role invite links themselves (only
their token's hash is stored)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.records import PendingInvite, RoleGrant
from bot.storage.base import StorageBase


def _role_grant(r: Sequence[Any]) -> RoleGrant:
    note = None if r[5] is None else bytes(r[5])
    return RoleGrant(str(r[0]), str(r[1]), str(r[2]), bytes(r[3]), int(r[4]), note)


class RolesMixin(StorageBase):
    """Grants, role links (invites)."""

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
