"""Start-meeting invitations relayed for coordinators, residents' answers to them, and the
anonymous answer counts (`invitation_tallies`) that answers become once their person goes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.records import Invitation
from bot.storage.base import StorageBase


class InvitationsMixin(StorageBase):
    """Invitations, answers, shared contacts and answer counts."""

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
