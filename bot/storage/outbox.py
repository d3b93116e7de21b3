"""The outbox: durable, rate-limited fan-out, one row per recipient. Enqueueing (refused for
people erased a moment ago), the rows due, the re-check right before each request
(`begin_send`/`end_send`, which /forget waits on), outcomes, retries, progress and purging."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from bot.records import OutboxRow
from bot.storage.base import StorageBase

# Outbox campaigns about one meeting that must not go out once it is cancelled (or, for a
# reminder, moved): 'meeting:<id>', 'meeting:<id>:v<n>', 'meeting-reminder:<id>:<starts_at>'.
# 'meeting:<id>:cancel' (the cancellation notice) is not matched.
_MEETING_CAMPAIGN = re.compile(r"^(meeting|meeting-reminder):([0-9]{1,12})(:v[0-9]+|:[0-9]+)?$")


class OutboxMixin(StorageBase):
    """Enqueue, due rows, begin/end send, outcomes, progress, purge."""

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

    # --- health (bot/ops/health.py) ----------------------------------------------------------

    async def health_counts(self) -> tuple[int, int, int | None, int | None]:
        """Totals for the health endpoint, in one statement: (registrations held, outbox rows
        pending, lowest and highest pending row id). Totals only: never per place or person."""
        async with self._conn.execute(
            "SELECT (SELECT COUNT(*) FROM registrations), COUNT(*), MIN(id), MAX(id)"
            " FROM outbox WHERE status = 'pending'"
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return 0, 0, None, None
        low, high = row[2], row[3]
        return (
            int(row[0]),
            int(row[1]),
            None if low is None else int(low),
            None if high is None else int(high),
        )
