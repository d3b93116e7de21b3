"""Erased means erased (issue 10): after /forget, after withdrawal and after expiry, no file of
the data folder (database, -wal, -shm) holds the person's user key, any encryption of their chat
id, or their theme; invitation answers live on only as anonymous counts; queued messages to
them are dropped; and a message already taken from the queue is not delivered after /forget.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import ExtBot
from telegram.request import RequestData

from bot.config import Config
from bot.interest.retention import run_retention
from bot.invitations.sending import campaign
from bot.offline.fake_bot_api import FakeBotRequest, FakeTelegram
from bot.outbox.sender import Sender
from bot.services import Services
from bot.storage import Meeting
from bot.weeks import DAY, week_index
from tests.support import USER_ID, PacingClock, Person, PersonFactory

T0 = 1_772_442_000.0  # Monday 2026-03-02 10:00 Oslo
THEME = "relatives_addiction"  # only the person under test chooses it
COORDINATOR = 100000002  # the sample Lyngen coordinator in config.yaml
OTHERS = (3001, 3002, 3003)


@pytest.fixture
def now() -> list[float]:
    return [T0]


@pytest.fixture(autouse=True)
def timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to PTB 23's timedelta periods, as the app does; PTB 22 warns otherwise."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


# --- helpers -------------------------------------------------------------------------------


def ui(person: Person, lang: str, key: str, **values: object) -> str:
    services: Services = person.app.bot_data.services
    return services.content.text(lang, key, **values)


async def register(person: Person, kind: str = THEME, lang: str = "nb") -> None:
    """Complete /interest with buttons in `lang`: Lyngen, `kind`, day, messages yes."""
    kind_key = f"interest.kind_{kind}" if kind in ("open", "any") else f"interest.theme.{kind}"
    message = (await person.say("/interest")).first
    for label in (
        *("interest.entry_yes", "interest.age_yes", "interest.sober_ok", "Nord-Norge", "Lyngen"),
        *(kind_key, "interest.time_day", "interest.contact_yes", "interest.confirm"),
    ):
        if label.startswith("interest."):
            label = ui(person, lang, label, min_age=18)
        message = (await person.press_label(message, label)).first


async def follow_lyngen(person: Person) -> None:
    """/meetings, Nord-Norge, Lyngen."""
    regions = (await person.say("/meetings")).last
    places = (await person.press_label(regions, "Nord-Norge")).last
    await person.press_label(places, "Lyngen")


async def stop_following(person: Person) -> None:
    """/meetings, "Stop all"."""
    await person.press_label((await person.say("/meetings")).last, "Stopp alle")


async def withdraw(person: Person, lang: str = "nb") -> None:
    """/mine, "Withdraw", confirmed."""
    mine = (await person.say("/mine")).first
    ask = (await person.press_label(mine, ui(person, lang, "mine.withdraw"))).first
    await person.press_label(ask, ui(person, lang, "mine.withdraw_yes"))


def query(database: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        return conn.execute(sql, args).fetchall()


def ciphertexts(database: Path, key: str) -> set[bytes]:
    """Every encryption of the person's chat id stored anywhere."""
    found: set[bytes] = set()
    for table, column, who in (
        ("residents", "chat_enc", "user_key"),
        ("meeting_marks", "chat_enc", "user_key"),
        ("outbox", "chat_enc", "recipient"),
        ("roles", "chat_enc", "user_key"),
    ):
        found |= {
            bytes(r[0])
            for r in query(database, f"SELECT {column} FROM {table} WHERE {who} = ?", (key,))
            if r[0]
        }
    return found


def wal_size(database: Path) -> int:
    wal = Path(f"{database}-wal")
    return wal.stat().st_size if wal.exists() else 0


def residue(folder: Path, needles: dict[str, bytes]) -> dict[str, list[str]]:
    """Which of the needles occur in which file of the data folder (empty: none anywhere)."""
    hits: dict[str, list[str]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for label, needle in needles.items():
            if needle in data:
                hits.setdefault(label, []).append(path.name)
    return hits


async def make_world(
    services: Services, person_factory: PersonFactory, database: Path
) -> tuple[Person, str, dict[str, bytes], int]:
    """The person under test registered (with a theme only they chose), following meetings in
    Lyngen, "coming" to a meeting, with a yes to an invitation and an announcement still
    queued to them; three others waiting too. Returns the person, their key, the needles to
    look for and the invitation id."""
    for other in OTHERS:
        await register(person_factory(user_id=other), kind="open")
    person = person_factory(user_id=USER_ID)
    await register(person)
    key = services.user_key(USER_ID)
    storage = services.storage
    await follow_lyngen(person)
    assert await storage.subscriptions_of(key)
    chat = services.cipher.encrypt(USER_ID, key)
    meeting_id = await storage.create_meeting(
        Meeting(
            0,
            "uid-erasure",
            "office",
            b"",
            "nord-norge",
            "Infomøte",
            int(T0 + 10 * DAY),
            "Kontoret",
            None,
            None,
            ("Lyngen",),
        )
    )
    assert await storage.set_mark(meeting_id, key, "coming", chat)
    coordinator_key = services.user_key(COORDINATOR)
    invitation = await storage.create_invitation(
        coordinator_key, "Lyngen", None, "Møte torsdag", b"sender"
    )
    targets = await storage.contactable_in("nord-norge", "Lyngen")
    assert key in {k for k, _ in targets}
    await storage.enqueue(campaign(invitation), [(k, c, {"text": "Møte"}) for k, c in targets])
    # The invitation is only queued here: the person answers with the button it carries.
    turn = await person.press(f"inv:{invitation}:yes")
    assert (await storage.invitation_counts(invitation))["yes"] == 1, turn.texts
    await storage.enqueue("meeting:1", [(key, chat, {"text": "Infomøte"})])
    needles = {"user key": key.encode(), "theme": THEME.encode()}
    for i, blob in enumerate(sorted(ciphertexts(database, key))):
        needles[f"chat id ciphertext {i}"] = blob
    assert len(needles) >= 4  # the residents row's and the one of the mark and announcement
    assert residue(database.parent, needles)  # the scan does find them while they are there
    return person, key, needles, invitation


def left_about(database: Path, key: str) -> dict[str, int]:
    counts = {}
    for table, who in (
        ("residents", "user_key"),
        ("registrations", "user_key"),
        ("flow_state", "user_key"),
        ("invitation_answers", "user_key"),
        ("meeting_marks", "user_key"),
        ("subscriptions", "user_key"),
        ("outbox", "recipient"),
    ):
        n = query(database, f"SELECT COUNT(*) FROM {table} WHERE {who} = ?", (key,))[0][0]
        if n:
            counts[table] = n
    return counts


# --- /forget, withdrawal, expiry ------------------------------------------------------------


async def test_forget_leaves_nothing_in_any_file_of_the_data_folder(
    services: Services, person_factory: PersonFactory, database: Path
) -> None:
    person, key, needles, invitation = await make_world(services, person_factory, database)

    confirm = (await person.say("/forget")).first
    done = await person.press_label(confirm, "Ja, slett alt")

    assert "Ferdig" in done.text
    assert left_about(database, key) == {}
    assert residue(database.parent, needles) == {}
    assert await services.storage.get_language(key) is None
    # What the coordinator was told stays right: the yes is a count with nobody behind it.
    counts = await services.storage.invitation_counts(invitation)
    assert counts == {"yes": 1, "maybe": 0, "no": 0, "shared": 0}
    assert wal_size(database) == 0


async def test_withdrawal_removes_the_registration_and_all_that_only_served_it(
    services: Services, person_factory: PersonFactory, database: Path
) -> None:
    person, key, needles, invitation = await make_world(services, person_factory, database)
    storage = services.storage
    await stop_following(person)  # nothing else needs the chat id
    await storage.clear_mark(1, key, "coming")

    await withdraw(person)

    assert await storage.get_registration(key) is None
    assert left_about(database, key) == {}
    assert residue(database.parent, needles) == {}
    assert (await storage.invitation_counts(invitation))["yes"] == 1
    # Digests still count the withdrawal, anonymously.
    tallies = await storage.tallies_since(week_index(T0, services.config.timezone))
    assert any(t.kind == "withdrawn" and t.municipality == "Lyngen" for t in tallies)


async def test_withdrawal_keeps_only_what_still_serves_a_purpose(
    services: Services, person_factory: PersonFactory, database: Path
) -> None:
    """Still following meetings: the residents row (with the chat id) stays for announcements,
    and so do the mark and the queued announcement; the invitation and its answer go."""
    person, key, needles, invitation = await make_world(services, person_factory, database)

    await withdraw(person)

    left = left_about(database, key)
    assert left == {"residents": 1, "meeting_marks": 1, "subscriptions": 1, "outbox": 1}
    assert query(database, "SELECT campaign FROM outbox WHERE recipient = ?", (key,)) == [
        ("meeting:1",)
    ]
    assert residue(database.parent, {"theme": needles["theme"]}) == {}
    assert (await services.storage.invitation_counts(invitation))["yes"] == 1


async def test_a_chosen_language_stays_without_the_chat_id_a_noted_one_goes(
    services: Services, person_factory: PersonFactory, database: Path
) -> None:
    chooser = person_factory(user_id=4001)
    await chooser.press_label((await chooser.say("/language")).first, "English")
    await register(chooser, lang="en")
    noted = person_factory(user_id=4002)
    await register(noted)
    for who, lang in ((chooser, "en"), (noted, "nb")):
        await withdraw(who, lang)

    chooser_key, noted_key = services.user_key(4001), services.user_key(4002)
    rows = query(
        database, "SELECT lang, chat_enc FROM residents WHERE user_key = ?", (chooser_key,)
    )
    assert rows == [("en", None)]
    assert await services.storage.get_language(chooser_key) == "en"
    assert left_about(database, noted_key) == {}
    assert await services.storage.get_language(noted_key) is None


async def test_expiry_removes_the_registration_and_all_that_only_served_it(
    services: Services,
    person_factory: PersonFactory,
    database: Path,
    config: Config,
    now: list[float],
) -> None:
    person, key, needles, invitation = await make_world(services, person_factory, database)
    await stop_following(person)
    now[0] = T0 + (config.retention_days - config.reminder_days) * DAY
    assert (await run_retention(services)).reminded == len(OTHERS) + 1
    assert query(database, "SELECT COUNT(*) FROM outbox WHERE recipient = ?", (key,))[0][0] >= 2

    now[0] = T0 + (config.retention_days + 1) * DAY  # nobody kept theirs; the meeting is past
    assert (await run_retention(services)).expired == len(OTHERS) + 1

    assert left_about(database, key) == {}
    assert residue(database.parent, needles) == {}
    assert (await services.storage.invitation_counts(invitation))["yes"] == 1
    assert query(database, "SELECT COUNT(*) FROM invitation_answers") == [(0,)]


async def test_past_meeting_marks_and_settled_answers_are_swept(
    services: Services, person_factory: PersonFactory, database: Path, now: list[float]
) -> None:
    """Without withdrawing: marks go the day after the meeting, an answer that can no longer
    change (its outbox row purged) becomes a count, an unfinished form goes after the period."""
    person, key, _, invitation = await make_world(services, person_factory, database)
    other = person_factory(user_id=OTHERS[0])
    await other.say("/interest")  # already registered: a new form is left unfinished
    await services.storage.set_flow(services.user_key(OTHERS[1]), "interest", {"step": "place"})
    await Sender(services, sleep=PacingClock().sleep, timer=PacingClock()).send_due(person.app.bot)
    now[0] = T0 + 70 * DAY  # past the meeting and the 60 days delivered rows are kept
    await run_retention(services)

    assert query(database, "SELECT COUNT(*) FROM meeting_marks") == [(0,)]
    assert query(database, "SELECT COUNT(*) FROM invitation_answers") == [(0,)]
    assert (await services.storage.invitation_counts(invitation))["yes"] == 1
    assert await services.storage.get_registration(key) is not None  # not yet expired
    now[0] = T0 + (services.config.retention_days + 1) * DAY
    await run_retention(services)
    assert query(database, "SELECT COUNT(*) FROM flow_state") == [(0,)]


async def test_unfollowing_everything_drops_the_chat_id(
    services: Services, person_factory: PersonFactory, database: Path
) -> None:
    person = person_factory(user_id=4003)
    await follow_lyngen(person)
    key = services.user_key(4003)
    assert query(database, "SELECT COUNT(*) FROM residents WHERE user_key = ?", (key,)) == [(1,)]
    await stop_following(person)
    assert left_about(database, key) == {}


# --- the sender and /forget -----------------------------------------------------------------


@pytest.fixture
async def ext_bot(fake: FakeTelegram) -> AsyncIterator[ExtBot[None]]:
    bot = ExtBot("1000000000:erasure", request=FakeBotRequest(fake))
    await bot.initialize()
    try:
        yield bot
    finally:
        await bot.shutdown()


async def people(services: Services, chats: range) -> list[tuple[str, bytes, dict[str, Any]]]:
    rows = []
    for chat in chats:
        key = services.user_key(chat)
        enc = services.cipher.encrypt(chat, key)
        await services.storage.ensure_resident(key, enc)
        rows.append((key, enc, {"text": f"Infomøte {chat}"}))
    return rows


class ForgetWhilePacing(PacingClock):
    """The Sender's pacing clock; at its `after`-th sleep (rows already taken from the queue)
    the victim runs /forget, completely, before the Sender goes on."""

    def __init__(self, services: Services, victim: str, after: int) -> None:
        super().__init__()
        self.services, self.victim, self.after, self.sleeps = services, victim, after, 0
        self.forgotten_at: int | None = None
        self.sent_so_far: Any = None

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        if self.sleeps == self.after:
            await self.services.storage.forget_resident(self.victim)
            self.forgotten_at = self.sent_so_far()
        await super().sleep(seconds)


async def test_the_connection_overwrites_deleted_content(services: Services) -> None:
    async with services.storage._conn.execute("PRAGMA secure_delete") as cur:
        assert await cur.fetchone() == (1,)


async def test_a_row_taken_before_forget_is_not_delivered_after_it(
    services: Services, fake: FakeTelegram, ext_bot: ExtBot[None], database: Path
) -> None:
    chats = range(5001, 5011)
    await services.storage.enqueue("meeting:7", await people(services, chats))
    victim_chat = 5009
    clock = ForgetWhilePacing(services, services.user_key(victim_chat), after=3)
    clock.sent_so_far = lambda: len(fake.sent)
    sender = Sender(services, sleep=clock.sleep, timer=clock, max_in_flight=4)

    report = await sender.run_until_idle(ext_bot, timeout=600)

    assert clock.forgotten_at is not None
    assert 0 < clock.forgotten_at < len(chats) - 1
    assert [s.chat_id for s in fake.sent if s.chat_id == victim_chat] == []
    assert report.sent == len(chats) - 1
    assert report.dropped == 1
    assert left_about(database, clock.victim) == {}


class HeldRequest(FakeBotRequest):
    """The fake Bot API, but a request to `held_chat` waits until the test lets it go."""

    def __init__(self, fake: FakeTelegram, held_chat: int) -> None:
        super().__init__(fake)
        self.held_chat = held_chat
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        params = dict(request_data.parameters) if request_data else {}
        if str(params.get("chat_id")) == str(self.held_chat):
            self.arrived.set()
            await self.release.wait()
        return await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )


async def test_forget_waits_for_a_message_already_under_way_to_the_person(
    services: Services, fake: FakeTelegram
) -> None:
    """However the race falls, nothing reaches the person once /forget has returned."""
    victim_chat = 5101
    await services.storage.enqueue("meeting:8", await people(services, range(5101, 5104)))
    request = HeldRequest(fake, victim_chat)
    bot = ExtBot("1000000000:erasure", request=request)
    await bot.initialize()
    clock = PacingClock()
    sender = Sender(services, sleep=clock.sleep, timer=clock)
    sending = asyncio.create_task(sender.run_until_idle(bot, timeout=600))
    await request.arrived.wait()  # the request to the victim is on its way

    forget = asyncio.create_task(services.storage.forget_resident(services.user_key(victim_chat)))
    for _ in range(50):
        await asyncio.sleep(0)
    assert not forget.done()  # it waits for the request under way ...
    request.release.set()
    await forget
    delivered_by_then = [s for s in fake.sent if s.chat_id == victim_chat]
    await sending
    await bot.shutdown()

    assert len(delivered_by_then) == 1  # ... which Telegram had before /forget returned
    assert [s for s in fake.sent if s.chat_id == victim_chat] == delivered_by_then


async def test_a_job_that_read_the_person_before_forget_cannot_queue_them_again(
    services: Services,
) -> None:
    rows = await people(services, range(5201, 5203))
    key = rows[0][0]
    await services.storage.forget_resident(key)
    assert await services.storage.enqueue("reminder:1", rows) == 1
    assert not await services.storage.is_recipient("reminder:1", key)
    # Coming back clears the tombstone: they can be messaged again.
    await services.storage.ensure_resident(key, rows[0][1])
    assert await services.storage.enqueue("reminder:2", rows[:1]) == 1


async def test_forget_checkpoints_even_while_a_read_of_ours_is_under_way(
    services: Services, person_factory: PersonFactory, database: Path
) -> None:
    """A checkpoint meets "table is locked" while another task's query is mid-way on the one
    connection: it waits for that read and tries again, and the erasure still succeeds."""
    person, key, needles, _ = await make_world(services, person_factory, database)
    reading = await services.storage._conn.execute("SELECT user_key FROM registrations")
    assert await reading.fetchone() is not None  # the statement stays open

    forget = asyncio.create_task(services.storage.forget_resident(key))
    await asyncio.sleep(0.02)
    await reading.close()
    await forget

    assert left_about(database, key) == {}
    assert residue(database.parent, needles) == {}
    assert person.user_id == USER_ID


async def test_a_busy_checkpoint_does_not_hold_up_the_bot(
    services: Services, person_factory: PersonFactory, database: Path
) -> None:
    """Another process holding a read (a backup) keeps the WAL: /forget still returns soon,
    the data is gone from the tables, and the next erasure's checkpoint clears the WAL."""
    person, key, needles, _ = await make_world(services, person_factory, database)
    with contextlib.closing(sqlite3.connect(database, isolation_level=None)) as backup:
        backup.execute("BEGIN")
        backup.execute("SELECT COUNT(*) FROM residents").fetchall()  # a snapshot held open
        started = asyncio.get_running_loop().time()
        await services.storage.forget_resident(key)
        assert asyncio.get_running_loop().time() - started < 5
        assert left_about(database, key) == {}
        backup.execute("COMMIT")
    await services.storage.forget_resident(services.user_key(OTHERS[0]))
    assert residue(database.parent, needles) == {}
    assert person.user_id == USER_ID
