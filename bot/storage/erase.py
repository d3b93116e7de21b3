"""The one every-table erase: /forget (`forget_resident`).

Every table that holds a person's key is listed here, and only here;
tests/storage/test_erase_covers_schema.py derives those tables from the schema and fails when
one is missing. Erased means erased: the WAL is checkpointed after the delete (secure_delete,
set when the database is opened, has zeroed the rows in the pages that replace them), a
tombstone (memory only, TOMBSTONE_SECONDS) stops a job that read the person before from
queueing them again, and the erase waits for requests to them already under way (the sender's
`begin_send`/`end_send`), so nothing reaches them once it is confirmed.
"""

from __future__ import annotations

import asyncio

from bot.storage.base import TOMBSTONE_SECONDS, StorageBase, log
from bot.storage.registrations import RegistrationsMixin

FORGET_WAITS_FOR_SEND = 60.0  # at most this long for a request to them already under way

__all__ = ["FORGET_WAITS_FOR_SEND", "TOMBSTONE_SECONDS", "ErasureMixin", "StorageBase"]


class ErasureMixin(RegistrationsMixin):
    """/forget: every row about a person, in every table."""

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
