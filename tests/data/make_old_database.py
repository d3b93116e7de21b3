"""Make tests/data/db_2026-12-02.sqlite3: a database as the code of 2026-12-02 writes it.

tests/storage/test_old_database.py opens it with today's code and runs journeys on it, so a
change to the schema or to what a row means shows there (issue 12: nothing a deployment holds
changes meaning). It was made by driving the bot as people do (registering by typing, /digest,
/announce, invitations) and the Storage API where no journey is short, with a fixed clock and a
fixed test-only secret key, and holds every kind of row: residents (with and without a chosen
language), a form in progress, registrations (one reminded), weekly tallies (new, withdrawn),
roles with a note, invite links (open and used), outbox rows (sent and pending), invitations
with answers, shared contacts and anonymous answer counts, a meeting with recipients, marks,
an opt-out and subscriptions, a snapshot, poster-link starts with their weekly tag.

Regenerate (overwrites the fixture and its manifest; only when the old database really should
change, which it should not):  .venv/bin/python tests/data/make_old_database.py
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from bot.composition import create_services  # noqa: E402
from bot.invitations.sending import send_draft  # noqa: E402
from bot.offline.fake_bot_api import FakeTelegram, Sent  # noqa: E402
from bot.outbox.progress import report_progress  # noqa: E402
from bot.outbox.sender import Sender  # noqa: E402
from bot.services import Services  # noqa: E402
from bot.storage import RoleGrant  # noqa: E402
from bot.weeks import week_index  # noqa: E402
from tests.support import (  # noqa: E402
    App,
    PacingClock,
    Person,
    Turn,
    load_repo_config,
    start_app,
    stop_app,
)

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "db_2026-12-02.sqlite3"
MANIFEST = HERE / "db_2026-12-02.json"
OSLO = ZoneInfo("Europe/Oslo")
T0 = datetime(2026, 12, 2, 12, 0, tzinfo=OSLO).timestamp()  # a Wednesday, noon in Oslo
# A key for this fixture only (it protects nothing): the test opens the database with it.
SECRET_KEY = hashlib.sha256(b"selvhjelp-bot old database fixture 2026-12-02").hexdigest()

LYNGEN_TYPED = ["ja", "jo", "jepp", "Lyngen", "sorg", "kveld", "ja takk", "ja"]
ALTA_TYPED = ["jepp", "ja", "japp", "Nord-Norge", "Alta", "Åpen", "ettermiddag", "jada", "bekreft"]
PEOPLE: dict[str, Any] = {
    "registered": [2001, 2002, 2003, 2004],  # Lyngen, grief, evening, yes to messages
    "withdrawn": 2005,  # registered in Lyngen, answered an invitation, withdrew
    "alta": 2006,
    "subscriber": 2007,  # follows meetings in Lyngen, no registration
    "english": 2008,  # chose English, nothing else
    "mid_form": 2009,  # started /interest and left it
    "granted_coordinator": 100000008,  # a coordinator for Tromsø made by an invite link
    "admin": 100000001,
    "coordinator": 100000002,  # Lyngen (config.yaml)
    "office": 100000004,  # nord-norge (config.yaml)
}
MEETING_TITLE = "Informasjonsmøte om selvhjelp"
INVITATION_TEXTS = ["Vi starter en sorggruppe i Lyngen.", "Første møte blir i januar."]


async def press(services: Services, person: Person, sent: Sent, plain: str) -> Turn:
    """Press the signed button `plain` on the bot's message `sent`."""
    for data in sent.callback_data:
        if services.signer.verify(person.user_id, data) == plain:
            return await person.press(data, on=sent)
    raise AssertionError(f"no {plain!r} button on {sent.text!r}")


async def announce(services: Services, office: Person) -> None:
    """/announce a meeting in Lyngen on 12 March at 18 and send it."""
    answers = [MEETING_TITLE, "12.03 kl 18", "Lyngen rådhus, Lyngseidet",
               "https://møte.example.no/lyngen", "Kaffe og vafler. Ingen påmelding."]  # fmt: skip
    for text in ("/announce", *answers):
        turn = await office.say(text)
    turn = await press(services, office, turn.last, "an:t:lyngen")
    turn = await press(services, office, turn.last, "an:tdone")
    await press(services, office, turn.sent[2], "an:send")


async def deliver(services: Services, app: App) -> None:
    """Send the outbox as the running bot does (progress wired like bot/scheduler.py)."""

    async def progress(campaign: str, counts: dict[str, int]) -> None:
        await report_progress(app.bot, services, campaign, counts)

    clock = PacingClock()
    sender = Sender(services, on_progress=progress, sleep=clock.sleep, timer=clock)
    await sender.run_until_idle(app.bot, timeout=120)


async def register(person: Person, typed: list[str]) -> None:
    await person.say("/interest")
    for text in typed:
        await person.say(text)


async def build(folder: Path) -> Path:
    now = [T0]
    config = dataclasses.replace(load_repo_config(folder), secret_key=SECRET_KEY)
    database = folder / "selvhjelp.sqlite3"
    services = await create_services(config, clock=lambda: now[0], database=str(database))
    fake = FakeTelegram()
    app = await start_app(services, fake)
    storage = services.storage

    def person(user_id: int, lang: str = "nb") -> Person:
        return Person(app, fake, user_id=user_id, language_code=lang)

    def key(user_id: int) -> str:
        return services.user_key(user_id)

    week = week_index(T0, services.config.timezone)
    for user_id in [*PEOPLE["registered"], PEOPLE["withdrawn"]]:
        await register(person(user_id), LYNGEN_TYPED)
    await register(person(PEOPLE["alta"]), ALTA_TYPED)
    await person(PEOPLE["subscriber"]).press("ms:m:lyngen")
    english = PEOPLE["english"]
    assert isinstance(english, int)
    await storage.ensure_resident(key(english), services.cipher.encrypt(english, key(english)))
    await storage.set_language(key(english), "en")
    await person(PEOPLE["mid_form"]).say("/interest")
    await storage.mark_reminded(key(2004))  # asked whether to keep it

    coordinator = PEOPLE["coordinator"]
    assert isinstance(coordinator, int)
    digest = await person(coordinator).say("/digest")  # takes the day's snapshot
    assert "Lyngen" in digest.text, digest.texts
    lyngen = services.config.municipality_named("Lyngen")
    assert lyngen is not None
    first = await send_draft(services, key(coordinator), coordinator, lyngen, None,
                             INVITATION_TEXTS[0])  # fmt: skip
    assert first == 5, first
    await deliver(services, app)  # the first invitation: sent rows
    invitation = (await storage.invitations_by(key(coordinator)))[0].id
    await storage.answer_invitation(invitation, key(2001), "yes")
    await storage.answer_invitation(invitation, key(2002), "maybe")
    await storage.mark_shared(invitation, key(2002))
    await storage.answer_invitation(invitation, key(PEOPLE["withdrawn"]), "no")
    withdrawn = await storage.remove_registration(key(PEOPLE["withdrawn"]), week, "withdrawn")
    assert withdrawn

    office = person(PEOPLE["office"])
    await announce(services, office)
    await deliver(services, app)  # the announcement: sent rows, recipients
    meeting = (await storage.meetings_in_region("nord-norge", 0))[0]
    await person(2001).press(f"mt:{meeting.id}:go")
    await person(2002).press(f"mt:{meeting.id}:rem")
    await storage.set_meeting_optout(key(2003), "nord-norge", "Lyngen", True)

    granted = PEOPLE["granted_coordinator"]
    assert isinstance(granted, int)
    note = services.cipher.encrypt_note("Kari på biblioteket")
    await storage.grant_role(RoleGrant(key(granted), "coordinator", "Tromsø",
                                       services.cipher.encrypt(granted, key(granted)), int(T0),
                                       note))  # fmt: skip
    admin = PEOPLE["admin"]
    assert isinstance(admin, int)
    admin_chat = services.cipher.encrypt(admin, key(admin))
    day = 24 * 3600
    await storage.create_invite(hashlib.sha256(b"open-link").hexdigest(), "office", "nord-norge",
                                int(T0) + 7 * day, key(admin), admin_chat, note)  # fmt: skip
    await storage.create_invite(hashlib.sha256(b"used-link").hexdigest(), "coordinator",
                                "Tromsø", int(T0) + 7 * day, key(admin), admin_chat)  # fmt: skip
    assert await storage.use_invite(hashlib.sha256(b"used-link").hexdigest(), int(T0))
    await storage.count_link_start("Lyngen", "nord-norge", week, "tag-of-person-place-week")
    await storage.count_link_start("Alta", "nord-norge", week)

    # Last: a second invitation, left pending (the test checks it goes out).
    pending = await send_draft(services, key(coordinator), coordinator, lyngen, "grief",
                               INVITATION_TEXTS[1])  # fmt: skip
    assert pending == 4, pending
    await stop_app(app)
    return database


def commit() -> str:
    out = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%H"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return out.stdout.strip() or "unknown"


def contents(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, sorted; blobs (ciphertexts, random nonces) and meeting uids
    (random) stand as placeholders, so two databases made alike compare equal."""
    out: dict[str, list[tuple[object, ...]]] = {}
    with contextlib.closing(sqlite3.connect(path)) as conn:
        tables = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        names = [str(r[0]) for r in conn.execute(tables)]
        for name in names:
            cur = conn.execute(f"SELECT * FROM {name}")
            cols = [d[0] for d in cur.description]
            out[name] = sorted(
                tuple("<blob>" if isinstance(v, bytes) else "<uid>" if c == "uid" else v
                      for c, v in zip(cols, row, strict=True))
                for row in cur
            )  # fmt: skip
    return out


def main(argv: list[str]) -> int:
    """Write the fixture, or with --compare make it again and say whether today's code writes
    the same rows as the committed fixture holds (nothing is overwritten then)."""
    compare = "--compare" in argv
    with tempfile.TemporaryDirectory() as tmp:
        made = asyncio.run(build(Path(tmp) / "data"))
        with contextlib.closing(sqlite3.connect(made)) as conn:  # one file: nothing in -wal
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
            counts = {
                str(name): int(conn.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0])
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            }
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if compare:
            ours, theirs = contents(made), contents(FIXTURE)
            differ = [t for t in sorted(set(ours) | set(theirs)) if ours.get(t) != theirs.get(t)]
            print("rows", json.dumps(counts), "schema version", version)
            print("tables that differ from the fixture:", differ or "none")
            for table in differ:
                print(
                    table,
                    "now:",
                    str(ours.get(table))[:300],
                    "fixture:",
                    str(theirs.get(table))[:300],
                )
            return 1 if differ else 0
        shutil.copyfile(made, FIXTURE)
    FIXTURE.chmod(0o600)
    manifest = {
        "made_with_commit": commit(),
        "note": "made from that commit's working tree during issue 12, before bot/storage was"
        " split by aggregate (storage_sha256: its bot/storage/__init__.py)",
        "storage_sha256": hashlib.sha256(
            (ROOT / "bot" / "storage" / "__init__.py").read_bytes()
        ).hexdigest(),
        "schema_version": version,
        "clock": T0,
        "secret_key": SECRET_KEY,
        "people": PEOPLE,
        "meeting_title": MEETING_TITLE,
        "invitation_texts": INVITATION_TEXTS,
        "rows": counts,
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(json.dumps(manifest["rows"]), version)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
