"""Logs carry no id, key or words at any level, whatever a library logs, and the times the
database keeps about residents are days, which cannot be joined with log lines (issue 10, F10).

The handlers here are attached to the root logger the way a deployer or a review script would:
`raw` has no filter of ours (what reaches it is kept clean by the capped, filtered library
loggers), `guarded` is the one `python -m bot` sets up (bot.cli.setup_logging).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram import Update

import bot.cli
from bot.chat.context import BotContext
from bot.composition import build_application
from bot.offline.fake_bot_api import Call, FakeApiError, FakeBotRequest, FakeTelegram, Sent
from bot.offline.fake_updates import message_update_json
from bot.outbox.sender import Sender
from bot.security import log_scrub as logsafe
from bot.services import Services
from bot.storage import day_floor
from bot.weeks import DAY
from tests.support import App, PacingClock, Person, PersonFactory

OSLO = ZoneInfo("Europe/Oslo")
T0 = datetime(2026, 3, 4, 14, 37, 12, tzinfo=OSLO).timestamp()  # a Wednesday afternoon
SECRET_ID = 739_218_604_553  # long enough never to turn up by chance
LYNGEN_COORDINATOR = 100000002  # config.yaml
MARKER = "zorblaxquint"
QUESTION = f"Min bror drikker hver dag, finnes det en gruppe for pårørende {MARKER}?"
CRISIS = "jeg vil ikke leve lenger"
INVITATION = "Oppstartsmøte hos Kari Nordmann i Storgata 5 torsdag"
WORDS = (MARKER, "drikker", "pårørende", "leve lenger", "Storgata", "Nordmann")
SQL = ("INSERT", "SELECT", "UPDATE ", "DELETE FROM")
TOKEN = "1000000000:offline-terminal-chat"


@pytest.fixture
def now() -> list[float]:
    return [T0]


class Collect(logging.Handler):
    """Everything that reaches a handler, as it would be written."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        # Everything a formatter or a structured (JSON) handler could print of the record.
        self.lines.append(f"{self.format(record)} {record.args!r} {record.exc_info!r}")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def raw() -> Iterator[Collect]:
    """A plain handler on the root logger at DEBUG, as the review scripts attach one."""
    handler, root = Collect(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def guarded(raw: Collect) -> Iterator[Collect]:  # noqa: ARG001 - raw first: both see all
    """The production handler: the same, with the filter `setup_logging` puts on it."""
    handler = Collect()
    logging.getLogger().addHandler(handler)
    logsafe.install([handler])
    yield handler
    logging.getLogger().removeHandler(handler)


def secrets_in(text: str, services: Services, extra: tuple[str, ...] = ()) -> list[str]:
    key = services.user_key(SECRET_ID)
    chat_enc = services.cipher.encrypt(SECRET_ID, key)
    needles = (str(SECRET_ID), key, key[:16], chat_enc.hex(), repr(chat_enc)[:20], TOKEN)
    return [s for s in (*needles, *WORDS, *SQL, *extra) if s in text]


async def register(person: Person, place: str, kind: str) -> Sent:
    """The real /interest flow, its buttons pressed by their label; the message that confirms it.
    `place` is a municipality's code ("lyngen"), `kind` a kind of group ("open", a theme)."""
    services: Services = person.app.bot_data.services
    kind_key = f"interest.kind_{kind}" if kind in ("open", "any") else f"interest.theme.{kind}"
    message = (await person.say("/interest")).first
    labels = ("Ja, det har jeg", "Ja, jeg er 18", "Ja, det kan jeg", "Nord-Norge")
    theirs = (place.capitalize(), services.content.text("nb", kind_key))
    for label in (*labels, *theirs, "På kvelden", "Ja, send meg beskjed", "Bekreft"):
        message = (await person.press_label(message, label)).first
    return message


def signed(message: Sent, prefix: str) -> str:
    found = [d for d in message.callback_data if d.startswith(prefix)]
    assert len(found) == 1, (prefix, message.callback_data)
    return found[0]


async def journey(app: App, person_factory: PersonFactory, now: list[float]) -> Person:
    """Kari asks, writes a crisis sentence, registers, follows meetings, is invited, answers,
    shares her contact, presses forged buttons and finally erases herself."""
    services: Services = app.bot_data.services
    kari = person_factory(user_id=SECRET_ID)
    await kari.say("/start")
    await kari.say(QUESTION)
    await kari.say(CRISIS)
    saved = await register(kari, "lyngen", "relatives_addiction")
    if saved.callback_data:
        await kari.press_label(saved, "Følg informasjonsmøter")  # follow meetings there
    for i in range(3):
        await register(person_factory(user_id=7000 + i), "lyngen", "open")
    now[0] += DAY  # coordinators see the day's snapshot
    coordinator = person_factory(user_id=LYNGEN_COORDINATOR)
    await coordinator.say("/digest")
    choose = (await coordinator.say("/invitation")).first
    await coordinator.press_label(choose, "Alle som venter")
    confirm = (await coordinator.say(INVITATION)).last
    await coordinator.press_label(confirm, "Send")
    clock = PacingClock()
    await Sender(services, sleep=clock.sleep, timer=clock).run_until_idle(app.bot, timeout=600)
    sent = await services.storage.invitations_by(services.user_key(LYNGEN_COORDINATOR))
    assert sent, "the invitation went out"
    assert any(INVITATION in m.text for m in kari.fake.messages_to(SECRET_ID))
    invitation = [m for m in kari.fake.messages_to(SECRET_ID) if INVITATION in m.text][-1]
    await kari.press_label(invitation, "Jeg kommer")
    asked = (await kari.press_label(invitation, "Del kontakten min")).first
    await kari.press_label(asked, "Ja, del kontakten min")
    await kari.press(f"t:{MARKER}")  # forged buttons
    await kari.press("i:k:" + "x" * 40)
    await kari.say(f"/{MARKER}")  # an unknown command
    return kari


async def test_a_whole_journey_at_debug_logs_no_id_key_words_or_sql(
    app: App, person_factory: PersonFactory, now: list[float], raw: Collect, guarded: Collect
) -> None:
    services: Services = app.bot_data.services
    kari = await journey(app, person_factory, now)
    confirm = (await kari.say("/forget")).first
    await kari.press_label(confirm, "Ja, slett alt")

    assert any(r.name == "selvhjelp.events" for r in guarded.records), "our events are logged"
    for handler in (raw, guarded):
        assert not secrets_in(handler.text, services), secrets_in(handler.text, services)
        libraries = [r for r in handler.records if not logsafe.is_own(r.name)]
        assert all(r.levelno >= logging.INFO for r in libraries), [r.name for r in libraries]


async def test_a_failing_handler_logs_the_type_and_place_never_the_text(
    person: Person, fake: FakeTelegram, services: Services, raw: Collect
) -> None:
    def fail(_call: Call) -> None:
        raise FakeApiError(400, f"Bad Request: message text is {MARKER} from {SECRET_ID}")

    fake.send_hook = fail
    await person.say(QUESTION)
    errors = [r for r in raw.records if r.name == "selvhjelp.errors"]
    assert errors, "the failure is logged"
    logged = "\n".join(raw.lines)
    assert "telegram.error.BadRequest (text withheld)" in logged
    assert "bot/answers/handlers.py" in logged  # where: the frames, file and line
    assert not secrets_in(logged, services), secrets_in(logged, services)


async def test_an_update_the_library_cannot_handle_is_not_logged_whole(
    app: App, services: Services, raw: Collect, monkeypatch: pytest.MonkeyPatch
) -> None:
    """python-telegram-bot logs the update at CRITICAL when it cannot build a context for it."""

    def broken(*_args: Any, **_kwargs: Any) -> BotContext:
        raise ValueError(f"cannot build context for {MARKER} {SECRET_ID}")

    monkeypatch.setattr(BotContext, "from_update", broken)
    data = message_update_json(QUESTION, user_id=SECRET_ID)
    await app.process_update(Update.de_json(data, app.bot))
    critical = [r for r in raw.records if r.levelno == logging.CRITICAL]
    assert critical, "the library reports it"
    assert logsafe.WITHHELD in critical[0].getMessage()
    assert not secrets_in(raw.text, services), secrets_in(raw.text, services)


class PoisonedTelegram(FakeTelegram):
    """getUpdates answers one update python-telegram-bot cannot parse."""

    def handle(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getUpdates":
            bad = message_update_json(QUESTION, user_id=SECRET_ID)
            bad["message"]["date"] = "not-a-date"
            bad["message"]["from"]["last_name"] = "Nordmann"
            return [bad]
        return super().handle(method, params)


async def test_polling_an_unparsable_update_does_not_log_it(
    services: Services, raw: Collect, guarded: Collect
) -> None:
    """Bot.get_updates logs the raw data it cannot parse at CRITICAL; the Updater then logs
    the exception. Neither may carry the text, the id or the name."""
    fake = PoisonedTelegram()
    request = FakeBotRequest(fake)
    app = build_application(services, request=request, get_updates_request=request)
    await app.initialize()
    try:
        with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the parser raises
            await app.bot.get_updates()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.01)
        await asyncio.sleep(0.2)
        with contextlib.suppress(TypeError):  # its last getUpdates meets the same update
            await app.updater.stop()
    finally:
        await app.shutdown()
    critical = [r for r in raw.records if r.levelno == logging.CRITICAL]
    assert critical
    assert "Received data was <withheld>" in critical[0].getMessage()
    for handler in (raw, guarded):
        found = secrets_in(handler.text, services, ("not-a-date",))
        assert not found, found


def test_the_webhook_handlers_critical_line_reaches_no_handler_whole(raw: Collect) -> None:
    """What python-telegram-bot's own webhook handler logs for an update it cannot parse
    (10c_webhook_bad_update_logged.py), on its own logger: withheld before any handler."""
    logsafe.install()  # as build_application does
    data = message_update_json(QUESTION, user_id=SECRET_ID)
    logging.getLogger("telegram.ext.Updater").critical(
        "Something went wrong processing the data received from Telegram. "
        "Received data was *not* processed! Received data was: %r",
        data,
    )
    logging.getLogger("telegram.ext.Updater").debug("Webhook received data: %s", data)
    assert raw.records
    assert raw.records[-1].getMessage().endswith("Received data was: <withheld>")
    assert all(r.levelno >= logging.INFO for r in raw.records)
    assert MARKER not in raw.text
    assert str(SECRET_ID) not in raw.text


def test_library_records_keep_no_arguments_even_from_loggers_made_later(
    guarded: Collect,
) -> None:
    """A library logger created after start-up has no filter of its own: the production
    handler's filter still withholds its arguments and exception text."""
    late = logging.getLogger("telegram.ext.MadeLater")
    try:
        raise RuntimeError(f"{MARKER} {SECRET_ID}")
    except RuntimeError:
        late.critical("Received data was %r", {"text": MARKER, "id": SECRET_ID}, exc_info=True)
    logging.getLogger("aiosqlite").debug("executing %s %s", "INSERT", (SECRET_ID,))
    text = guarded.text
    assert "Received data was <withheld>" in text
    assert "RuntimeError (text withheld)" in text
    for secret in (MARKER, str(SECRET_ID), "INSERT"):
        assert secret not in text


def test_own_records_are_scrubbed_and_their_exceptions_described(guarded: Collect) -> None:
    log = logging.getLogger("selvhjelp.test")
    log.debug("our own debug still comes through: %d waiting", 3)
    log.warning("a careless line with %s and %s", SECRET_ID, "a" * 64)
    try:
        raise KeyError(MARKER)
    except KeyError:
        log.exception("failed")
    text = guarded.text
    assert "our own debug still comes through: 3 waiting" in text
    assert "a careless line with <number> and <redacted>" in text
    assert "KeyError (text withheld)" in text
    assert MARKER not in text


def test_scrub_and_placeholders() -> None:
    assert logsafe.scrub(f"id {SECRET_ID} token {TOKEN}") == "id <number> token <token>"
    assert logsafe.scrub("week=2026-W10 recipients=12 retry in 30 s") == (
        "week=2026-W10 recipients=12 retry in 30 s"
    )
    assert logsafe.withhold_arguments("a %s b %(x)r c %.1f d %%\nsecond line") == (
        "a <withheld> b <withheld> c <withheld> d %%"
    )


def test_setup_logging_caps_the_libraries_and_filters_its_handler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    bot.cli.setup_logging(logging.DEBUG)
    (handler,) = root.handlers
    assert any(isinstance(f, logsafe.PrivacyFilter) for f in handler.filters)
    assert handler.formatter is not None
    assert handler.formatter.datefmt == "%Y-%m-%d %H:%M"
    for name in ("aiosqlite", "httpx", "httpcore", "asyncio", "tornado.access"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING, name
    for name in ("telegram", "telegram.ext", "telegram.ext.Updater", "telegram.Bot"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.INFO, name


# --- times stored about residents are days --------------------------------------------------

RESIDENT_TIMES = {
    "residents": ("created_at", "updated_at"),
    "registrations": ("created_at", "updated_at", "expires_at", "reminded_at"),
    "subscriptions": ("created_at",),
    "flow_state": ("updated_at",),
}


def resident_times(database: Path) -> list[tuple[str, int]]:
    found = []
    with sqlite3.connect(database) as conn:
        for table, columns in RESIDENT_TIMES.items():
            for column in columns:
                rows = conn.execute(f"SELECT {column} FROM {table}").fetchall()
                found += [(f"{table}.{column}", int(r[0])) for r in rows if r[0] is not None]
    return found


async def test_resident_times_are_stored_as_local_midnights(
    app: App, person_factory: PersonFactory, now: list[float], database: Path, raw: Collect
) -> None:
    await journey(app, person_factory, now)
    half = person_factory(user_id=SECRET_ID + 1)
    now[0] += 3 * 3600 + 17  # another time of day: a form left half done, a language chosen
    await half.say("/interest")
    await half.press_label((await half.say("/language")).first, "English")

    times = resident_times(database)
    tables = {name.split(".")[0] for name, _ in times}
    assert tables == set(RESIDENT_TIMES), tables
    for name, value in times:
        assert datetime.fromtimestamp(value, OSLO).time().isoformat() == "00:00:00", name
    # The review's join (20_log_db_correlation.py): no stored time near any logged event.
    crisis = [r.created for r in raw.records if r.getMessage().startswith("crisis_reply")]
    assert crisis
    assert not [n for n, v in times for t in crisis if 0 <= v - t < 3600 or 0 <= t - v < 60]


def test_day_floor_is_local_midnight_across_daylight_saving() -> None:
    summer = datetime(2026, 7, 1, 0, 30, tzinfo=OSLO).timestamp()  # 22:30 UTC the day before
    assert day_floor(summer, OSLO) == datetime(2026, 7, 1, tzinfo=OSLO).timestamp()
    change = datetime(2026, 3, 29, 23, 59, tzinfo=OSLO).timestamp()  # a 23-hour day
    assert day_floor(change, OSLO) == datetime(2026, 3, 29, tzinfo=OSLO).timestamp()
    assert day_floor(day_floor(T0, OSLO), OSLO) == day_floor(T0, OSLO)
