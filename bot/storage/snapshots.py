"""The day's fixed aggregate figures (snapshots), poster-link start counts with their weekly
deduplication tags, and purging the tallies no figure shows any more. No user key here."""

from __future__ import annotations

from bot.storage.base import StorageBase


class SnapshotsMixin(StorageBase):
    """Snapshots, link starts, tally purging."""

    # --- daily snapshots ---------------------------------------------------------------------

    async def purge_tallies(self, before_week: int) -> None:
        """Drop weekly tallies and poster-link counts older than any figure still shows."""
        async with self._lock:
            await self._conn.execute(
                "DELETE FROM registration_events WHERE week < ?", (before_week,)
            )
            await self._conn.execute("DELETE FROM link_starts WHERE week < ?", (before_week,))
            await self._conn.commit()

    async def get_snapshot(self, day: int) -> str | None:
        """The JSON of the day's snapshot, or None if it was not taken yet."""
        async with self._conn.execute("SELECT data FROM snapshots WHERE day = ?", (day,)) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else None

    async def save_snapshot(self, day: int, data: str, keep_days: int) -> str:
        """Store the day's snapshot unless one exists (the first one of a day stays, so a
        figure never changes within a day), drop those older than `keep_days`, and return the
        day's snapshot as stored."""
        async with self._lock:
            await self._conn.execute(
                "INSERT OR IGNORE INTO snapshots (day, taken_at, data) VALUES (?, ?, ?)",
                (day, self._now(), data),
            )
            await self._conn.execute("DELETE FROM snapshots WHERE day < ?", (day - keep_days,))
            await self._conn.commit()
        stored = await self.get_snapshot(day)
        return stored if stored is not None else data

    # --- link statistics ---------------------------------------------------------------------

    async def count_link_start(
        self, municipality: str, region_id: str, week: int, tag: str | None = None
    ) -> bool:
        """One more /start from this place's poster link in `week`, unless `tag` (a keyed hash
        of person, place and week, bot.security.pseudonyms.WeeklyTagger) was already counted this
        week.
        Tags of earlier weeks are deleted on the way. True if it counted."""
        async with self._lock:  # never commit half of another method's transaction
            await self._conn.execute("DELETE FROM link_start_seen WHERE week < ?", (week,))
            fresh = True
            if tag is not None:
                cur = await self._conn.execute(
                    "INSERT OR IGNORE INTO link_start_seen (tag, week) VALUES (?, ?)", (tag, week)
                )
                fresh = bool(cur.rowcount)
            if fresh:
                await self._conn.execute(
                    "INSERT INTO link_starts (municipality, region_id, week, n)"
                    " VALUES (?, ?, ?, 1) ON CONFLICT (municipality, region_id, week)"
                    " DO UPDATE SET n = n + 1",
                    (municipality, region_id, week),
                )
            await self._conn.commit()
        return fresh

    async def purge_link_start_tags(self, week: int) -> int:
        """Delete the deduplication tags of weeks before `week` (the week is over)."""
        cur = await self._write("DELETE FROM link_start_seen WHERE week < ?", (week,))
        return cur.rowcount or 0

    async def link_starts(self, week: int) -> dict[tuple[str, str], int]:
        """(region id, municipality) -> link starts in `week`."""
        async with self._conn.execute(
            "SELECT region_id, municipality, n FROM link_starts WHERE week = ?", (week,)
        ) as cur:
            return {(str(r[0]), str(r[1])): int(r[2]) for r in await cur.fetchall()}
