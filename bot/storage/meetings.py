"""Information meetings: subscriptions ("follow meetings there"), the registered place's yes
to meetings and its opt-out, meetings themselves, who each was sent or shown to, and the
anonymous "I'm coming" / "remind me" marks."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from bot.records import Meeting
from bot.storage.residents import ResidentsMixin

_MEETING_COLUMNS = (
    "id, uid, office_key, office_chat, region_id, title, starts_at, place, link, description,"
    " municipalities, status, version"
)


def _meeting(r: Sequence[Any]) -> Meeting:
    return Meeting(
        int(r[0]), str(r[1]), str(r[2]), bytes(r[3]), str(r[4]), str(r[5]), int(r[6]),
        str(r[7]), r[8], r[9], tuple(json.loads(r[10])), str(r[11]), int(r[12]),
    )  # fmt: skip


class MeetingsMixin(ResidentsMixin):
    """Meetings, marks, recipients, opt-outs, subscriptions."""

    async def subscribe(self, user_key: str, region_id: str, municipality: str) -> bool:
        """Follow meetings in a municipality ('' = the whole region); False if already did."""
        cur = await self._write(
            "INSERT OR IGNORE INTO subscriptions (user_key, region_id, municipality, created_at)"
            " VALUES (?, ?, ?, ?)",
            (user_key, region_id, municipality, self._coarse()),
        )
        return bool(cur.rowcount)

    async def unsubscribe(
        self, user_key: str, region_id: str | None = None, municipality: str | None = None
    ) -> int:
        """Stop one subscription, or all of them when no place is given. Following nothing
        any more (and nothing else needing it), the residents row goes too."""
        async with self._lock:
            if region_id is None:
                cur = await self._conn.execute(
                    "DELETE FROM subscriptions WHERE user_key = ?", (user_key,)
                )
            else:
                cur = await self._conn.execute(
                    "DELETE FROM subscriptions WHERE user_key = ? AND region_id = ?"
                    " AND municipality = ?",
                    (user_key, region_id, municipality or ""),
                )
            pruned = await self._prune_resident(user_key)
            await self._conn.commit()
            if pruned:
                await self._checkpoint()
        return cur.rowcount or 0

    async def subscriptions_of(self, user_key: str) -> list[tuple[str, str]]:
        """(region_id, municipality) pairs the person follows."""
        async with self._conn.execute(
            "SELECT region_id, municipality FROM subscriptions WHERE user_key = ?"
            " ORDER BY region_id, municipality",
            (user_key,),
        ) as cur:
            return [(str(r[0]), str(r[1])) for r in await cur.fetchall()]

    async def subscribers_for(
        self, region_id: str, municipalities: Sequence[str]
    ) -> list[tuple[str, bytes]]:
        """(user key, encrypted chat) of active subscribers to these places or the region."""
        marks = ",".join("?" for _ in municipalities) or "NULL"
        async with self._conn.execute(
            "SELECT DISTINCT s.user_key, p.chat_enc FROM subscriptions s"
            " JOIN residents p ON p.user_key = s.user_key"
            " WHERE s.region_id = ? AND p.active = 1 AND p.chat_enc IS NOT NULL"
            f" AND (s.municipality = '' OR s.municipality IN ({marks}))",
            (region_id, *municipalities),
        ) as cur:
            return [(str(r[0]), bytes(r[1])) for r in await cur.fetchall()]

    async def registered_for_meetings(
        self, region_id: str, municipalities: Sequence[str]
    ) -> list[tuple[str, bytes]]:
        """(user key, encrypted chat) of active residents registered in these places who said
        yes to messages and did not stop meetings there (issue 11: that yes covers them)."""
        marks = ",".join("?" for _ in municipalities) or "NULL"
        async with self._conn.execute(
            "SELECT r.user_key, p.chat_enc FROM registrations r"
            " JOIN residents p ON p.user_key = r.user_key"
            " WHERE r.region_id = ? AND r.contact_ok = 1 AND p.active = 1"
            f" AND p.chat_enc IS NOT NULL AND r.municipality IN ({marks})"
            " AND NOT EXISTS (SELECT 1 FROM meeting_optouts o WHERE o.user_key = r.user_key"
            " AND o.region_id = r.region_id AND o.municipality = r.municipality)",
            (region_id, *municipalities),
        ) as cur:
            return [(str(r[0]), bytes(r[1])) for r in await cur.fetchall()]

    async def registered_meeting_place(self, user_key: str) -> tuple[str, str] | None:
        """(region, municipality) whose meetings the person gets through their registration:
        registered there (a listed municipality), yes to messages, not stopped."""
        async with self._conn.execute(
            "SELECT r.region_id, r.municipality FROM registrations r WHERE r.user_key = ?"
            " AND r.contact_ok = 1 AND r.municipality != ''"
            " AND NOT EXISTS (SELECT 1 FROM meeting_optouts o WHERE o.user_key = r.user_key"
            " AND o.region_id = r.region_id AND o.municipality = r.municipality)",
            (user_key,),
        ) as cur:
            row = await cur.fetchone()
        return (str(row[0]), str(row[1])) if row else None

    async def set_meeting_optout(
        self, user_key: str, region_id: str, municipality: str, stopped: bool
    ) -> None:
        """Stop (or start again) meetings for the place the person registered in."""
        if stopped:
            await self._write(
                "INSERT OR IGNORE INTO meeting_optouts (user_key, region_id, municipality)"
                " VALUES (?, ?, ?)",
                (user_key, region_id, municipality),
            )
        else:
            await self._write(
                "DELETE FROM meeting_optouts WHERE user_key = ? AND region_id = ?"
                " AND municipality = ?",
                (user_key, region_id, municipality),
            )

    async def add_meeting_recipients(self, meeting_id: int, user_keys: Iterable[str]) -> None:
        """Remember who a meeting was sent or shown to (user keys only)."""
        rows = [(meeting_id, key) for key in user_keys if not self._erased(key)]
        async with self._lock:
            await self._conn.executemany(
                "INSERT OR IGNORE INTO meeting_recipients (meeting_id, user_key) VALUES (?, ?)",
                rows,
            )
            await self._conn.commit()

    async def meeting_recipients(self, meeting_id: int) -> list[tuple[str, bytes]]:
        """(user key, encrypted chat) of everyone the meeting was sent or shown to who can
        still be reached (not blocked, not erased)."""
        async with self._conn.execute(
            "SELECT k.user_key, p.chat_enc FROM meeting_recipients k"
            " JOIN residents p ON p.user_key = k.user_key"
            " WHERE k.meeting_id = ? AND p.active = 1 AND p.chat_enc IS NOT NULL",
            (meeting_id,),
        ) as cur:
            return [(str(r[0]), bytes(r[1])) for r in await cur.fetchall()]

    async def drop_meeting_queue(self, meeting_id: int) -> int:
        """On cancellation: queued (not yet sent) announcements, changes and reminders of the
        meeting go; whoever had not yet received its announcement is no longer a recipient."""
        async with self._lock:
            await self._conn.execute(
                "DELETE FROM meeting_recipients WHERE meeting_id = ? AND user_key IN"
                " (SELECT recipient FROM outbox WHERE campaign = ? AND status = 'pending')",
                (meeting_id, f"meeting:{meeting_id}"),
            )
            cur = await self._conn.execute(
                "DELETE FROM outbox WHERE status = 'pending' AND (campaign = ?"
                " OR substr(campaign, 1, ?) = ? OR substr(campaign, 1, ?) = ?)",
                (
                    f"meeting:{meeting_id}",
                    len(f"meeting:{meeting_id}:v"), f"meeting:{meeting_id}:v",
                    len(f"meeting-reminder:{meeting_id}:"), f"meeting-reminder:{meeting_id}:",
                ),
            )  # fmt: skip
            await self._conn.commit()
        return cur.rowcount or 0

    async def create_meeting(self, meeting: Meeting) -> int:
        now = self._now()
        cur = await self._write(
            "INSERT INTO meetings (uid, office_key, office_chat, region_id, title, starts_at,"
            " place, link, description, municipalities, status, version, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', 1, ?, ?)",
            (
                meeting.uid, meeting.office_key, meeting.office_chat, meeting.region_id,
                meeting.title, meeting.starts_at, meeting.place, meeting.link,
                meeting.description, json.dumps(list(meeting.municipalities)), now, now,
            ),
        )  # fmt: skip
        return int(cur.lastrowid or 0)

    async def get_meeting(self, meeting_id: int) -> Meeting | None:
        async with self._conn.execute(
            f"SELECT {_MEETING_COLUMNS} FROM meetings WHERE id = ?", (meeting_id,)
        ) as cur:
            row = await cur.fetchone()
        return _meeting(row) if row else None

    async def update_meeting(self, meeting: Meeting, *, rearm: bool = True) -> int:
        """Save changed fields (or status); returns the new version number. A new start time
        re-arms "remind me", so people are reminded before the meeting as it now is; with
        `rearm` False (it is now too close for a reminder: the change notice is the last word)
        every "remind me" counts as reminded instead."""
        async with self._lock:
            await self._update_meeting(meeting, rearm)
        async with self._conn.execute(
            "SELECT version FROM meetings WHERE id = ?", (meeting.id,)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _update_meeting(self, meeting: Meeting, rearm: bool = True) -> None:
        await self._conn.execute(
            "UPDATE meeting_marks SET reminded = ? WHERE mark = 'remind' AND meeting_id = ?"
            " AND ? != (SELECT starts_at FROM meetings WHERE id = ?)",
            (0 if rearm else 1, meeting.id, meeting.starts_at, meeting.id),
        )
        await self._conn.execute(
            "UPDATE meetings SET title = ?, starts_at = ?, place = ?, link = ?, description = ?,"
            " municipalities = ?, status = ?, version = version + 1, updated_at = ?"
            " WHERE id = ?",
            (
                meeting.title, meeting.starts_at, meeting.place, meeting.link,
                meeting.description, json.dumps(list(meeting.municipalities)), meeting.status,
                self._now(), meeting.id,
            ),
        )  # fmt: skip
        await self._conn.commit()

    async def meetings_in_region(self, region_id: str, after: int) -> list[Meeting]:
        """Active and cancelled meetings of a region that start after `after`, soonest first."""
        async with self._conn.execute(
            f"SELECT {_MEETING_COLUMNS} FROM meetings WHERE region_id = ? AND starts_at > ?"
            " ORDER BY starts_at",
            (region_id, after),
        ) as cur:
            return [_meeting(r) for r in await cur.fetchall()]

    async def set_mark(self, meeting_id: int, user_key: str, mark: str, chat_enc: bytes) -> bool:
        """Record "coming" or "remind"; False if it was already set."""
        cur = await self._write(
            "INSERT OR IGNORE INTO meeting_marks (meeting_id, user_key, mark, chat_enc)"
            " VALUES (?, ?, ?, ?)",
            (meeting_id, user_key, mark, chat_enc),
        )
        return bool(cur.rowcount)

    async def clear_mark(self, meeting_id: int, user_key: str, mark: str) -> bool:
        cur = await self._write(
            "DELETE FROM meeting_marks WHERE meeting_id = ? AND user_key = ? AND mark = ?",
            (meeting_id, user_key, mark),
        )
        return bool(cur.rowcount)

    async def has_mark(self, meeting_id: int, user_key: str) -> bool:
        """Whether the person marked this meeting ("coming" or "remind")."""
        async with self._conn.execute(
            "SELECT 1 FROM meeting_marks WHERE meeting_id = ? AND user_key = ? LIMIT 1",
            (meeting_id, user_key),
        ) as cur:
            return await cur.fetchone() is not None

    async def mark_counts(self, meeting_id: int) -> dict[str, int]:
        async with self._conn.execute(
            "SELECT mark, COUNT(*) FROM meeting_marks WHERE meeting_id = ? GROUP BY mark",
            (meeting_id,),
        ) as cur:
            counts = {str(r[0]): int(r[1]) for r in await cur.fetchall()}
        return {"coming": counts.get("coming", 0), "remind": counts.get("remind", 0)}

    async def marked_people(self, meeting_id: int) -> list[tuple[str, bytes]]:
        """Everyone who pressed "I'm coming" or "Remind me" (once each): they hear of changes."""
        async with self._conn.execute(
            "SELECT user_key, MIN(chat_enc) FROM meeting_marks WHERE meeting_id = ?"
            " GROUP BY user_key",
            (meeting_id,),
        ) as cur:
            return [(str(r[0]), bytes(r[1])) for r in await cur.fetchall()]

    async def due_meeting_reminders(self, now: int, ahead: int) -> list[tuple[int, str, bytes]]:
        """(meeting id, user key, chat) for "remind me" marks of active meetings starting
        within `ahead` seconds that have not been reminded yet."""
        async with self._conn.execute(
            "SELECT k.meeting_id, k.user_key, k.chat_enc FROM meeting_marks k"
            " JOIN meetings m ON m.id = k.meeting_id"
            " WHERE k.mark = 'remind' AND k.reminded = 0 AND m.status = 'active'"
            " AND m.starts_at > ? AND m.starts_at <= ?",
            (now, now + ahead),
        ) as cur:
            return [(int(r[0]), str(r[1]), bytes(r[2])) for r in await cur.fetchall()]

    async def mark_reminder_sent(self, meeting_id: int, user_key: str) -> None:
        await self._write(
            "UPDATE meeting_marks SET reminded = 1 WHERE meeting_id = ? AND user_key = ?"
            " AND mark = 'remind'",
            (meeting_id, user_key),
        )
