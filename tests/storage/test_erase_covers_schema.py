"""/forget covers the schema: every table that holds a person's key, derived from the database
itself, is emptied of that person by `Storage.forget_resident` (bot/storage/erase.py).

The person-key columns are found by name in a fresh database (sqlite_master and
PRAGMA table_info) and must equal PERSON_KEY_COLUMNS: a new table or column holding a person's
key fails here until it is added there, and to the erase. Every table is then filled with rows
of person A and person B, A is erased, and no cell anywhere holds A's key or an encryption of
A's chat; B's rows are untouched, except that the anonymous tallies (by design) count A's
withdrawal and A's invitation answer.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from bot.storage import Storage

NOW = 1_780_000_000.0
WEEK = 2900
# Columns that hold a person's user key (an HMAC of their Telegram id), by name.
PERSON_KEY = re.compile(r"^(user_key|recipient|created_by|[a-z]+_key)$")
PERSON_KEY_COLUMNS = {
    ("flow_state", "user_key"),
    ("invitation_answers", "user_key"),
    ("invitations", "sender_key"),
    ("invites", "created_by"),
    ("meeting_marks", "user_key"),
    ("meeting_optouts", "user_key"),
    ("meeting_recipients", "user_key"),
    ("meetings", "office_key"),
    ("outbox", "recipient"),
    ("registrations", "user_key"),
    ("residents", "user_key"),
    ("roles", "user_key"),
    ("subscriptions", "user_key"),
}
# Columns that hold the encryption of the person's chat id, next to their key.
PERSON_CHAT = re.compile(r"^(chat_enc|[a-z]+_chat)$")
# Tables with no person in them: anonymous counts and figures (link_start_seen's tag is a
# keyed hash whose key is random per week and lives only in memory).
ANONYMOUS = {"invitation_tallies", "link_start_seen", "link_starts", "registration_events",
             "snapshots"}  # fmt: skip
# Rows an erased person owned that stay for others, no longer pointing to them.
KEPT_WITHOUT_THEM: dict[str, dict[str, Any]] = {
    "meetings": {"office_key": "", "office_chat": b""},  # residents still follow the meeting
    "invites": {"created_by": None, "creator_chat": None},  # the link still works
}
PEOPLE = {"A": 1, "B": 2}
JSON_COLUMNS = {"data": "{}", "payload": "{}", "municipalities": "[]"}


def key(person: str) -> str:
    return f"user-key-of-person-{person}-0123456789abcdef"


def chat(person: str) -> bytes:
    return f"encrypted-chat-of-person-{person}".encode()


def schema(path: Path) -> dict[str, list[tuple[str, str, bool, bool, bool]]]:
    """table -> (column, declared type, not null, has a default, in the primary key)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        names = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {
            name: [
                (str(c[1]), str(c[2]).upper(), bool(c[3]), c[4] is not None, bool(c[5]))
                for c in conn.execute(f"PRAGMA table_info({name})")
            ]
            for name in names
        }


def person_key_columns(
    tables: dict[str, list[tuple[str, str, bool, bool, bool]]],
) -> set[tuple[str, str]]:
    return {(t, c[0]) for t, cols in tables.items() for c in cols if PERSON_KEY.match(c[0])}


def row_for(
    table: str, columns: list[tuple[str, str, bool, bool, bool]], person: str
) -> dict[str, Any]:
    """A row of `person` (parents and foreign keys: B's, so A's rows hang on nothing of A's)."""
    n = PEOPLE[person]
    row: dict[str, Any] = {}
    for name, kind, notnull, has_default, pk in columns:
        if PERSON_KEY.match(name):
            row[name] = key(person)
        elif PERSON_CHAT.match(name):
            row[name] = chat(person)
        elif name in ("invitation_id", "meeting_id"):
            row[name] = PEOPLE["B"]
        elif name == "id":
            row[name] = n
        elif name == "lang":
            row[name] = "en"
        elif name in JSON_COLUMNS:
            row[name] = JSON_COLUMNS[name]
        elif (notnull and not has_default) or pk:
            if kind == "INTEGER":
                row[name] = n
            elif kind == "REAL":
                row[name] = float(n)
            elif kind == "BLOB":
                row[name] = f"{table}.{name}".encode()
            else:
                row[name] = f"{table}.{name}.{n}"
    return row


def fill(path: Path) -> None:
    tables = schema(path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        parents_first = sorted(tables, key=lambda t: t not in ("invitations", "meetings"))
        for table in parents_first:
            people = ["A"] if table in ANONYMOUS else ["B", "A"]
            for person in people:
                row = row_for(table, tables[table], person)
                marks = ", ".join("?" for _ in row)
                conn.execute(
                    f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})",
                    tuple(row.values()),
                )
        conn.commit()


def everything(path: Path) -> dict[str, list[dict[str, Any]]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        return {
            table: [dict(r) for r in conn.execute(f"SELECT * FROM {table}")]
            for table in schema(path)
        }


def of(person: str, row: dict[str, Any]) -> bool:
    return any(v == key(person) or v == chat(person) for v in row.values())


def frozen(rows: list[dict[str, Any]]) -> Counter[tuple[tuple[str, Any], ...]]:
    return Counter(tuple(sorted(r.items())) for r in rows)


async def test_the_schema_has_exactly_the_person_key_columns_the_erase_knows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fresh.sqlite3"
    storage = await Storage.open(path, lambda: NOW)
    await storage.close()
    tables = schema(path)
    assert person_key_columns(tables) == PERSON_KEY_COLUMNS
    # Every table is either a person's (it has a key column) or anonymous by design.
    with_person = {t for t, _ in PERSON_KEY_COLUMNS}
    assert set(tables) == with_person | ANONYMOUS
    assert not with_person & ANONYMOUS
    # A chat id is only ever stored next to the key of the person it belongs to.
    chats = {t for t, cols in tables.items() for c in cols if PERSON_CHAT.match(c[0])}
    assert chats <= with_person


async def test_forget_leaves_no_row_of_the_person_in_any_table(tmp_path: Path) -> None:
    path = tmp_path / "filled.sqlite3"
    storage = await Storage.open(path, lambda: NOW)
    await storage.close()
    fill(path)
    before = everything(path)
    for table in schema(path):
        assert before[table], f"{table} was not filled"
        if table not in ANONYMOUS:
            assert any(of("A", r) for r in before[table]), table
            assert any(of("B", r) for r in before[table]), table

    storage = await Storage.open(path, lambda: NOW)
    try:
        assert await storage.get_language(key("A")) == "en"
        assert storage.flow_name(key("A")) is not None
        removed = await storage.forget_resident(key("A"), WEEK)
        assert removed >= len(PERSON_KEY_COLUMNS) - len(KEPT_WITHOUT_THEM)
        # The memory mirrors forget them too; a job that read them before cannot queue them.
        assert await storage.get_language(key("A")) is None
        assert storage.flow_name(key("A")) is None
        assert await storage.enqueue("digest:1", [(key("A"), chat("A"), {})]) == 0
        assert await storage.get_language(key("B")) == "en"
        assert storage.flow_name(key("B")) is not None
    finally:
        await storage.close()

    after = everything(path)
    for table, rows in after.items():
        assert not [r for r in rows if of("A", r)], f"{table} still holds person A"
    # Nothing of A is left in any file either (secure_delete, then the WAL checkpointed).
    for file in list(tmp_path.iterdir()):  # noqa: ASYNC240 (a test, after the database closed)
        data = file.read_bytes()
        assert key("A").encode() not in data, file.name
        assert chat("A") not in data, file.name

    for table, rows in before.items():
        if table in ANONYMOUS:
            continue
        kept = [r for r in rows if not of("A", r)]
        if table in KEPT_WITHOUT_THEM:
            kept += [{**r, **KEPT_WITHOUT_THEM[table]} for r in rows if of("A", r)]
        assert frozen(after[table]) == frozen(kept), table

    # The anonymous tallies: A's registration counted as withdrawn, A's invitation answer
    # folded into the answer counts (no key in either); the rest as it was.
    a_reg = next(r for r in before["registrations"] if of("A", r))
    withdrawn = {"municipality": a_reg["municipality"], "region_id": a_reg["region_id"],
                 "week": WEEK, "kind": "withdrawn", "n": 1}  # fmt: skip
    assert frozen(after["registration_events"]) == frozen(
        [*before["registration_events"], withdrawn]
    )
    answer = next(r for r in before["invitation_answers"] if of("A", r))
    tallies = {(r["invitation_id"], r["answer"]): r for r in before["invitation_tallies"]}
    slot = (answer["invitation_id"], answer["answer"])
    old = tallies.get(slot, {"n": 0, "shared": 0})
    tallies[slot] = {"invitation_id": slot[0], "answer": slot[1], "n": old["n"] + 1,
                     "shared": old["shared"] + answer["shared"]}  # fmt: skip
    assert frozen(after["invitation_tallies"]) == frozen(list(tallies.values()))
    for table in ANONYMOUS - {"registration_events", "invitation_tallies"}:
        assert frozen(after[table]) == frozen(before[table]), table
