"""Registrations of interest: saving (tallied weekly, anonymously), withdrawal and expiry with
everything that only served them, reminders, the retention sweep, who may be contacted, and
the per-cell counts a daily snapshot is made of."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bot.records import EventTally, Registration, RegistrationCell
from bot.storage.invitations import InvitationsMixin
from bot.storage.residents import ResidentsMixin

# Erasure (issue 10). Outbox campaigns that exist only because of a registration: withdrawal and
# expiry drop a person's rows of these (announcements stay while they still follow meetings).
REGISTRATION_CAMPAIGNS = ("invitation:", "reminder:")

_REG_COLUMNS = (
    "user_key, municipality, region_id, group_kind, time_pref, contact_ok,"
    " created_at, updated_at, expires_at, reminded_at"
)


def _registration(row: Sequence[Any]) -> Registration:
    return Registration(
        str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), bool(row[5]),
        int(row[6]), int(row[7]), int(row[8]), None if row[9] is None else int(row[9]),
    )  # fmt: skip


class RegistrationsMixin(ResidentsMixin, InvitationsMixin):
    """Registrations, tallies, reminders, expiry, retention, cells for snapshots."""

    async def _get_registration(self, user_key: str) -> Registration | None:
        async with self._conn.execute(
            f"SELECT {_REG_COLUMNS} FROM registrations WHERE user_key = ?", (user_key,)
        ) as cur:
            row = await cur.fetchone()
        return _registration(row) if row else None

    async def get_registration(self, user_key: str) -> Registration | None:
        return await self._get_registration(user_key)

    async def _tally(self, municipality: str, region_id: str, week: int, kind: str) -> None:
        await self._conn.execute(
            "INSERT INTO registration_events (municipality, region_id, week, kind, n)"
            " VALUES (?, ?, ?, ?, 1) ON CONFLICT (municipality, region_id, week, kind)"
            " DO UPDATE SET n = n + 1",
            (municipality, region_id, week, kind),
        )

    async def save_registration(self, reg: Registration, week: int) -> None:
        """Insert or replace the resident's registration; moving place counts as new there."""
        async with self._lock:
            old = await self._get_registration(reg.user_key)
            if old is None or (old.municipality, old.region_id) != (
                reg.municipality,
                reg.region_id,
            ):
                if old is not None:
                    await self._tally(old.municipality, old.region_id, week, "withdrawn")
                await self._tally(reg.municipality, reg.region_id, week, "new")
            await self._conn.execute(
                f"INSERT OR REPLACE INTO registrations ({_REG_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    reg.user_key, reg.municipality, reg.region_id, reg.group_kind,
                    reg.time_pref, int(reg.contact_ok), self._coarse(reg.created_at),
                    self._coarse(reg.updated_at), self._coarse(reg.expires_at),
                    None if reg.reminded_at is None else self._coarse(reg.reminded_at),
                ),
            )  # fmt: skip
            await self._conn.commit()

    async def remove_registration(
        self, user_key: str, week: int, kind: str, *, checkpoint: bool = True
    ) -> bool:
        """Withdraw ('withdrawn') or expire ('expired') a registration, tallying it, with all
        that only served it: the interest form in progress, invitation answers (kept only as
        anonymous counts), queued and delivered invitations and reminders, and the residents
        row unless something else still needs it (see `_prune_resident`). Then the WAL is
        checkpointed, unless the caller does it once for many (`checkpoint()`)."""
        async with self._lock:
            old = await self._get_registration(user_key)
            if old is None:
                return False
            await self._tally(old.municipality, old.region_id, week, kind)
            await self._conn.execute("DELETE FROM registrations WHERE user_key = ?", (user_key,))
            await self._conn.execute("DELETE FROM meeting_optouts WHERE user_key = ?", (user_key,))
            await self._conn.execute(
                "DELETE FROM flow_state WHERE user_key = ? AND flow = 'interest'", (user_key,)
            )
            await self._fold_answers("user_key = ?", (user_key,))
            for prefix in REGISTRATION_CAMPAIGNS:
                await self._conn.execute(
                    "DELETE FROM outbox WHERE recipient = ? AND substr(campaign, 1, ?) = ?",
                    (user_key, len(prefix), prefix),
                )
            await self._prune_resident(user_key)
            await self._conn.commit()
            if checkpoint:
                await self._checkpoint()
        state = self._flows.get(user_key)
        if state is not None and state[0] == "interest":
            self._flows.pop(user_key, None)
        return True

    async def registrations_in(
        self, places: Iterable[tuple[str, str]] | None = None
    ) -> list[Registration]:
        """Registrations in the given (region_id, municipality) places, or all of them."""
        if places is None:
            sql, args = f"SELECT {_REG_COLUMNS} FROM registrations", tuple[str, ...]()
        else:
            pairs = list(places)
            if not pairs:
                return []
            marks = ",".join("(?, ?)" for _ in pairs)
            sql = (
                f"SELECT {_REG_COLUMNS} FROM registrations"
                f" WHERE (region_id, municipality) IN (VALUES {marks})"
            )
            args = tuple(x for pair in pairs for x in pair)
        async with self._conn.execute(sql, args) as cur:
            return [_registration(row) for row in await cur.fetchall()]

    async def tallies_since(self, week: int) -> list[EventTally]:
        async with self._conn.execute(
            "SELECT municipality, region_id, week, kind, n FROM registration_events"
            " WHERE week >= ?",
            (week,),
        ) as cur:
            return [
                EventTally(str(r[0]), str(r[1]), int(r[2]), str(r[3]), int(r[4]))
                for r in await cur.fetchall()
            ]

    async def registrations_due_reminder(self, before: int) -> list[Registration]:
        """Registrations expiring before `before` that have not been reminded yet."""
        async with self._conn.execute(
            f"SELECT {_REG_COLUMNS} FROM registrations"
            " WHERE expires_at <= ? AND reminded_at IS NULL",
            (before,),
        ) as cur:
            return [_registration(row) for row in await cur.fetchall()]

    async def mark_reminded(self, user_key: str) -> None:
        await self._write(
            "UPDATE registrations SET reminded_at = ? WHERE user_key = ?",
            (self._coarse(), user_key),
        )

    async def extend_registration(self, user_key: str, expires_at: int) -> int | None:
        """Keep a registration longer (the resident answered the reminder); new expiry or None
        (stored, like every resident time, as its day: `day_floor`)."""
        expires_at = self._coarse(expires_at)
        cur = await self._write(
            "UPDATE registrations SET expires_at = ?, reminded_at = NULL, updated_at = ?"
            " WHERE user_key = ?",
            (expires_at, self._coarse(), user_key),
        )
        return expires_at if cur.rowcount else None

    async def registrations_expired(self, now: int) -> list[str]:
        async with self._conn.execute(
            "SELECT user_key FROM registrations WHERE expires_at <= ?", (now,)
        ) as cur:
            return [str(r[0]) for r in await cur.fetchall()]

    async def sweep_leftovers(self, meetings_before: int, flows_before: int) -> int:
        """Erase what no longer serves anyone (the retention job): invitation answers that can
        no longer change (their outbox row was purged) become anonymous counts; "coming" and
        "remind me" marks of meetings that started before `meetings_before` go, with residents
        rows nothing needs any more; forms left unfinished since `flows_before` go. Returns
        how many rows went (checkpoint afterwards)."""
        async with self._lock:
            removed = await self._fold_answers(
                "NOT EXISTS (SELECT 1 FROM outbox o"
                " WHERE o.recipient = invitation_answers.user_key"
                " AND o.campaign = 'invitation:' || invitation_answers.invitation_id)",
                (),
            )
            async with self._conn.execute(
                "SELECT DISTINCT k.user_key FROM meeting_marks k JOIN meetings m"
                " ON m.id = k.meeting_id WHERE m.starts_at < ?",
                (meetings_before,),
            ) as cur:
                marked = [str(r[0]) for r in await cur.fetchall()]
            cur = await self._conn.execute(
                "DELETE FROM meeting_marks WHERE meeting_id IN"
                " (SELECT id FROM meetings WHERE starts_at < ?)",
                (meetings_before,),
            )
            removed += cur.rowcount or 0
            cur = await self._conn.execute(  # who a meeting went to, once it is over
                "DELETE FROM meeting_recipients WHERE meeting_id IN"
                " (SELECT id FROM meetings WHERE starts_at < ?)",
                (meetings_before,),
            )
            removed += cur.rowcount or 0
            for user_key in marked:
                removed += await self._prune_resident(user_key)
            async with self._conn.execute(
                "SELECT user_key FROM flow_state WHERE updated_at < ?", (flows_before,)
            ) as cur:
                stale = [str(r[0]) for r in await cur.fetchall()]
            await self._conn.execute(
                "DELETE FROM flow_state WHERE updated_at < ?", (flows_before,)
            )
            for user_key in stale:
                self._flows.pop(user_key, None)
            removed += len(stale)
            await self._conn.commit()
        return removed

    async def contactable_in(
        self, region_id: str, municipality: str, group_kind: str | None = None
    ) -> list[tuple[str, bytes]]:
        """(user key, encrypted chat) of active residents waiting there who accept messages."""
        sql = (
            "SELECT r.user_key, p.chat_enc FROM registrations r"
            " JOIN residents p ON p.user_key = r.user_key"
            " WHERE r.region_id = ? AND r.municipality = ? AND r.contact_ok = 1"
            " AND p.active = 1 AND p.chat_enc IS NOT NULL"
        )
        args: tuple[Any, ...] = (region_id, municipality)
        if group_kind is not None:  # people with no preference welcome any kind of group
            sql += " AND r.group_kind IN (?, 'any')"
            args += (group_kind,)
        async with self._conn.execute(sql, args) as cur:
            return [(str(r[0]), bytes(r[1])) for r in await cur.fetchall()]

    # --- digest queries ----------------------------------------------------------------------

    async def registration_cells(
        self, before: int, exclude: Iterable[str], long_before: int
    ) -> list[RegistrationCell]:
        """Registrations made before `before`, counted per place, kind of group and time, with
        how many of them were made before `long_before`: all a snapshot needs, in one GROUP
        BY, no user keys. `exclude`: user keys left out (people who hold a role)."""
        excluded = sorted(set(exclude))
        marks = ", ".join("?" * len(excluded))
        sql = (
            "SELECT region_id, municipality, group_kind, time_pref, COUNT(*),"
            " SUM(created_at < ?) FROM registrations WHERE created_at < ?"
            + (f" AND user_key NOT IN ({marks})" if excluded else "")
            + " GROUP BY region_id, municipality, group_kind, time_pref"
        )
        async with self._conn.execute(sql, (long_before, before, *excluded)) as cur:
            return [
                RegistrationCell(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), int(r[5]))
                for r in await cur.fetchall()
            ]
