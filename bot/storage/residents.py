"""Residents: the residents row (language, encrypted chat, blocked or not), and where a person
is in a multi-step flow. Both the chosen languages and the flows are mirrored in memory
(`StorageBase._load_mirrors`), so every update reads them without a database round trip."""

from __future__ import annotations

import json
from typing import Any

from bot.storage.base import StorageBase


class ResidentsMixin(StorageBase):
    """Language, resident rows and flow state."""

    async def get_language(self, user_key: str) -> str | None:
        """The language a resident chose with /language, or None."""
        return self._languages.get(user_key)

    async def set_language(self, user_key: str, lang: str, *, chosen: bool = True) -> None:
        """Store the person's language. `chosen=False` for a language only taken along (the one
        they registered or followed meetings in): it goes when nothing else needs the row,
        while a chosen one (/language, an English poster) stays until /forget."""
        now = self._coarse()
        await self._write(
            "INSERT INTO residents (user_key, lang, created_at, updated_at, lang_chosen)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(user_key) DO UPDATE SET lang = excluded.lang,"
            " updated_at = excluded.updated_at,"
            " lang_chosen = MAX(residents.lang_chosen, excluded.lang_chosen)",
            (user_key, lang, now, now, int(chosen)),
        )
        self._languages[user_key] = lang

    async def _prune_resident(self, user_key: str) -> bool:
        """Drop the residents row (language, encrypted chat id) when nothing needs it any more:
        no registration, no meetings followed, no "coming"/"remind me" mark, no role. A chosen
        language stays (without the chat id); a language only taken along goes, and with the
        row any message still queued to them. True when something went. Under `_lock`."""
        async with self._conn.execute(
            "SELECT lang_chosen FROM residents WHERE user_key = ?"
            " AND NOT EXISTS (SELECT 1 FROM registrations WHERE user_key = ?)"
            " AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE user_key = ?)"
            " AND NOT EXISTS (SELECT 1 FROM meeting_marks WHERE user_key = ?)"
            " AND NOT EXISTS (SELECT 1 FROM roles WHERE user_key = ?)",
            (user_key,) * 5,
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return False
        if row[0]:
            await self._conn.execute(
                "UPDATE residents SET chat_enc = NULL WHERE user_key = ?", (user_key,)
            )
        else:
            await self._conn.execute("DELETE FROM residents WHERE user_key = ?", (user_key,))
            self._languages.pop(user_key, None)
        await self._conn.execute("DELETE FROM outbox WHERE recipient = ?", (user_key,))
        for table in ("meeting_recipients", "meeting_optouts"):  # nothing can reach them now
            await self._conn.execute(f"DELETE FROM {table} WHERE user_key = ?", (user_key,))
        return True

    async def has_resident(self, user_key: str) -> bool:
        async with self._conn.execute(
            "SELECT 1 FROM residents WHERE user_key = ?", (user_key,)
        ) as cur:
            return await cur.fetchone() is not None

    async def ensure_resident(self, user_key: str, chat_enc: bytes | None = None) -> None:
        """Create the resident row if missing; store the (encrypted) chat id when given."""
        self._tombstones.pop(user_key, None)  # they came back after /forget
        now = self._coarse()
        await self._write(
            "INSERT INTO residents (user_key, lang, created_at, updated_at, chat_enc, active)"
            " VALUES (?, NULL, ?, ?, ?, 1) ON CONFLICT(user_key) DO UPDATE SET"
            " chat_enc = COALESCE(excluded.chat_enc, residents.chat_enc), active = 1,"
            " updated_at = excluded.updated_at",
            (user_key, now, now, chat_enc),
        )

    async def resident_chat(self, user_key: str) -> bytes | None:
        async with self._conn.execute(
            "SELECT chat_enc FROM residents WHERE user_key = ? AND active = 1", (user_key,)
        ) as cur:
            row = await cur.fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    async def mark_inactive(self, user_key: str) -> None:
        """The person blocked the bot: stop messaging them (their data stays until expiry)."""
        async with self._lock:
            await self._conn.execute(
                "UPDATE residents SET active = 0 WHERE user_key = ?", (user_key,)
            )
            await self._conn.execute(
                "UPDATE outbox SET status = 'blocked' WHERE recipient = ? AND status = 'pending'",
                (user_key,),
            )
            await self._conn.commit()

    # --- flow state --------------------------------------------------------------------------

    def flow_name(self, user_key: str) -> str | None:
        """Which multi-step flow the person is in, if any (answered from memory)."""
        state = self._flows.get(user_key)
        return state[0] if state else None

    async def get_flow(self, user_key: str) -> tuple[str, dict[str, Any]] | None:
        """The flow a person is in and its data (a fresh copy), surviving restarts."""
        state = self._flows.get(user_key)
        return (state[0], dict(json.loads(state[1]))) if state else None

    async def set_flow(self, user_key: str, flow: str, data: dict[str, Any]) -> None:
        encoded = json.dumps(data, ensure_ascii=False)
        await self._write(
            "INSERT INTO flow_state (user_key, flow, data, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(user_key) DO UPDATE SET flow = excluded.flow, data = excluded.data,"
            " updated_at = excluded.updated_at",
            (user_key, flow, encoded, self._coarse()),
        )
        self._flows[user_key] = (flow, encoded)

    async def clear_flow(self, user_key: str) -> bool:
        cur = await self._write("DELETE FROM flow_state WHERE user_key = ?", (user_key,))
        self._flows.pop(user_key, None)
        return bool(cur.rowcount)
