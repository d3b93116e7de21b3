"""Faults survived, measured: the real bot (`python -m bot run`, its real polling loop and its
sending queue) against the fake Bot API while that goes down, answers 500/502 and 429, and
times out, then comes back.

    python -m bench.faults [--down-seconds S] [--residents R] [--recipients N] [--seed X]

prints a table per phase and a few checks, then one final line:

    faults updates=U confirmed=C answered=A lost_updates=L registrations=R stored=S
      lost_registrations=0 broadcast=N delivered=D duplicates=P lost_messages=0
      recovery_max_s=X errors_logged=E disk_full=ok sigterm_lost=0 sigterm_duplicates=Q

Set-up: a temporary data folder with a config.yaml copy whose sending rate is low (4/s), so an
office announcement to N recipients (default 300, enqueued in the outbox before start, as the
announcement flow does) is still going out while the faults come. The bot runs as a child
process with TELEGRAM_API_BASE_URL at a FakeTelegramServer on 127.0.0.1 in this process.
Simulated residents (distinct chat ids) send questions in nb/en (crisis ones included) and
walk the whole /interest journey by pressing the buttons they are shown, through the fake's
getUpdates; each waits for its reply before the next step, and asks again (presses again)
when no reply comes within --patience seconds (default 90: longer than the outage and the
polling loop's back-off, so an unanswered update is one whose reply was lost, not a late one).

Phases (bot/offline/fake_bot_server.py `Fault`): healthy; down (connections refused, every
open one dropped) for --down-seconds; 500 on every call; 502 on half the calls; 429 with
retry_after on half the calls; hangs past the client's timeout; hangs after the call was
served (a reply delivered whose answer never comes back: duplicates in flight); connections
closed without an answer; healthy. After each fault heals, a probe question is sent and the
seconds until it is answered are the phase's recovery time.

Figures:
- updates: pushed to the fake; confirmed: taken by the bot's getUpdates (the offset moved past
  them); answered: got a reply; lost_updates = updates - confirmed (must be 0). An update
  whose reply call met a fault is unanswered, and its resident asks again; those are counted
  per phase ("unanswered").
- registrations: journeys whose final press got the confirmation; stored: registrations in the
  database afterwards (read with the bot stopped); lost = confirmed but not stored.
- broadcast: deliveries per recipient as the fake recorded them; duplicates = deliveries beyond
  the first; lost = recipients with none once the outbox is drained; in_flight_unanswered =
  calls the fake served but never answered (the "hang after serving" phase), the only ones a
  retry can duplicate: duplicates <= in_flight_unanswered.
- errors_logged: WARNING and ERROR lines in the bot's log (network trouble is expected there).
- disk_full: the bot in this process on a database whose size is capped with SQLite's
  `PRAGMA max_page_count`: one clear log line, questions still answered, and
  `PRAGMA integrity_check` ok afterwards.
- sigterm: a second bot process gets SIGTERM half way through a broadcast to N recipients,
  is started again and finishes: lost must be 0, duplicates <= requests in flight at the stop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.quality import load_questions
from bench.register import Choice, choices, script
from bot.composition import DATABASE_NAME, create_services
from bot.config import Config, parse_config
from bot.content import Content, load_content
from bot.lifecycle import running_bot
from bot.offline.fake_bot_api import Sent
from bot.offline.fake_bot_server import FakeTelegramServer, Fault
from bot.offline.fake_updates import callback_update_json, message_update_json
from bot.storage import Storage

ROOT = Path(__file__).resolve().parent.parent
CONFIG_PATH = ROOT / "config.yaml"
TOKEN = "4242424242:faults-bench"
FIRST_RESIDENT = 700_000_001
FIRST_RECIPIENT = 710_000_001
PROBE_USER = 709_999_999
CAMPAIGN = "announce:faults-bench"
REPLY_METHODS = frozenset({"sendMessage", "editMessageText"})
PATIENCE = 20.0  # seconds a resident waits for a reply before asking (pressing) again
START_TIMEOUT = 60.0  # seconds for a bot process to reach its first getUpdates


# --- the bot as a child process ---------------------------------------------------------------


def write_config(data_dir: Path, rate: float) -> Path:
    """config.yaml with this run's sending rate, inside the data folder."""
    raw: dict[str, Any] = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
    raw.setdefault("sending", {})["rate_per_second"] = rate
    path = data_dir / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def bot_environ(base_url: str, data_dir: Path) -> dict[str, str]:
    """The environment `python -m bot run` gets: this machine's, minus any real Telegram or
    data settings, plus the fake's address and the temporary data folder and key."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "SELVHJELP_")) and k != "PTB_TIMEDELTA"
    }
    env.update(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": base_url,
            "SELVHJELP_DATA_DIR": str(data_dir),
            "SELVHJELP_KEY_FILE": str(data_dir / "key" / "secret.key"),
            "SELVHJELP_HEALTH_PORT": "0",  # several bots at once here: no fixed port
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def config_for(data_dir: Path, config_path: Path) -> Config:
    """The Config the child process reads (for seeding the outbox with the same key)."""
    raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    env = {
        "SELVHJELP_DATA_DIR": str(data_dir),
        "SELVHJELP_KEY_FILE": str(data_dir / "key" / "secret.key"),
    }
    return parse_config(raw, env, str(config_path))


def get_updates_calls(server: FakeTelegramServer) -> int:
    return sum(n for (method, _kind), n in server.encodings.items() if method == "getUpdates")


class BotProcess:
    """`python -m bot run` on a data folder, logging to a file."""

    def __init__(self, base_url: str, data_dir: Path, config_path: Path, log_path: Path) -> None:
        self.base_url = base_url
        self.data_dir = data_dir
        self.config_path = config_path
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self, server: FakeTelegramServer) -> float:
        """Start it and wait for its first long poll; returns the seconds that took."""
        before = get_updates_calls(server)
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: ASYNC220 - returns at once
                [sys.executable, "-m", "bot", "--config", str(self.config_path), "run"],
                cwd=ROOT,
                env=bot_environ(self.base_url, self.data_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        while get_updates_calls(server) == before:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the bot exited with {self.process.returncode}; see {self.log_path}"
                )
            if time.monotonic() - started > START_TIMEOUT:
                raise RuntimeError(f"the bot did not poll within {START_TIMEOUT:.0f}s")
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("not started")
        return self.process.pid

    def rss_mb(self) -> float:
        """Resident memory of the bot process now (Linux /proc)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    async def terminate(self, patience: float = 60.0) -> int:
        """SIGTERM, as systemd or docker stop sends it; waits for the exit code."""
        if self.process is None:
            return 0
        self.process.send_signal(signal.SIGTERM)
        return await self.wait(patience)

    async def wait(self, patience: float) -> int:
        if self.process is None:
            return 0
        deadline = time.monotonic() + patience
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.process.kill()
                self.process.wait()
                return -9
            await asyncio.sleep(0.05)
        return int(self.process.returncode)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log_lines(self) -> list[str]:
        if not self.log_path.exists():
            return []
        return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()


def logged_problems(lines: list[str]) -> Counter[str]:
    """WARNING/ERROR lines of the bot's log by level and logger, and tracebacks."""
    found: Counter[str] = Counter()
    for line in lines:
        parts = line.split(" ", 4)
        if len(parts) >= 4 and parts[2] in ("WARNING", "ERROR", "CRITICAL"):
            found[f"{parts[2]} {parts[3].rstrip(':')}"] += 1
        elif line.startswith("Traceback"):
            found["Traceback"] += 1
    return found


# --- what the residents see -------------------------------------------------------------------


class Chats:
    """Routes what the bot sends, as the fake records it, to the chat it went to.

    Residents wait on their chat's queue; broadcast recipients only count deliveries. The
    fake's own call and message logs are emptied as we go, so a long run keeps flat memory.
    """

    def __init__(self, server: FakeTelegramServer, recipients: set[int]) -> None:
        self.server = server
        self.recipients = recipients
        self.queues: defaultdict[int, asyncio.Queue[tuple[float, Sent]]] = defaultdict(
            asyncio.Queue
        )
        self.deliveries: Counter[int] = Counter()
        self.delivered_at: list[float] = []
        server.fake.on_message = self._on_message

    def _on_message(self, sent: Sent) -> None:
        self.server.fake.calls.clear()
        self.server.fake.sent.clear()
        if sent.chat_id in self.recipients:
            if sent.method == "sendMessage":
                self.deliveries[sent.chat_id] += 1
                self.delivered_at.append(time.monotonic())
            return
        if sent.method in REPLY_METHODS:
            self.queues[sent.chat_id].put_nowait((time.monotonic(), sent))


@dataclass
class Stats:
    """Every update a resident sent and what came of it."""

    started: float = field(default_factory=time.monotonic)
    sent: list[float] = field(default_factory=list)  # monotonic send times
    update_ids: list[int] = field(default_factory=list)
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (sent at, seconds)
    unanswered: list[float] = field(default_factory=list)  # send times of updates never answered
    kinds: Counter[str] = field(default_factory=Counter)
    confirmed: set[int] = field(default_factory=set)  # journeys confirmed (user ids)
    journeys_failed: int = 0
    failed_steps: Counter[str] = field(default_factory=Counter)  # "step -> what was offered"

    @property
    def answered(self) -> int:
        return len(self.latencies)


def strip_id(update: dict[str, Any]) -> dict[str, Any]:
    """The server numbers updates itself, in the order they are pushed."""
    return {k: v for k, v in update.items() if k != "update_id"}


class Resident:
    """One person in a private chat with the bot: sends, then waits for the reply."""

    def __init__(
        self, user_id: int, lang: str, server: FakeTelegramServer, chats: Chats, stats: Stats
    ) -> None:
        self.user_id = user_id
        self.lang = lang
        self.server = server
        self.queue = chats.queues[user_id]
        self.stats = stats
        self.last: Sent | None = None  # the latest message the bot sent this person

    def _message(self, text: str) -> dict[str, Any]:
        return strip_id(message_update_json(text, self.user_id, language_code=self.lang))

    def _press(self, data: str) -> dict[str, Any]:
        last = self.last
        return strip_id(
            callback_update_json(
                data,
                self.user_id,
                language_code=self.lang,
                message_id=last.message_id if last else 1,
                message_text=last.text if last else "...",
            )
        )

    async def step(
        self,
        kind: str,
        data: str,
        want: Callable[[Sent], bool] | None = None,
        patience: float = PATIENCE,
        tries: int = 3,
    ) -> Sent | None:
        """Say `data` (kind "say") or press it ("press"); wait for a reply that `want`s (any
        reply when None). No reply in `patience` seconds: ask again, `tries` times in all."""
        for _ in range(tries):
            while not self.queue.empty():  # late replies to an earlier step
                _t, sent = self.queue.get_nowait()
                self.last = sent
            update = self._message(data) if kind == "say" else self._press(data)
            sent_at = time.monotonic()
            self.stats.update_ids.append(self.server.push_update(update))
            self.stats.sent.append(sent_at)
            self.stats.kinds[kind] += 1
            first: float | None = None
            deadline = sent_at + patience
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    arrived, sent = await asyncio.wait_for(self.queue.get(), remaining)
                except TimeoutError:
                    break
                self.last = sent
                if first is None:
                    first = arrived - sent_at
                    self.stats.latencies.append((sent_at, first))
                if want is None or want(sent):
                    return sent
            if first is None:
                self.stats.unanswered.append(sent_at)
        return None


def offers(data: str) -> Callable[[Sent], bool]:
    return lambda sent: data in sent.callback_data


def pressable(sent: Sent | None, prefix: str) -> str | None:
    """The first button in `sent` whose data starts with `prefix`."""
    if sent is None:
        return None
    return next((d for d in sent.callback_data if d.startswith(prefix)), None)


async def journey(
    resident: Resident,
    choice: Choice,
    rng: random.Random,
    patience: float = PATIENCE,
    tries: int = 3,
) -> bool:
    """The whole /interest flow by its buttons; True when the confirmation came.

    Someone who registered before (and withdrew or ran /forget) may be taken back to where a
    form was left: a reply that asks a later step of the script carries on from that step."""
    steps = script(choice)
    number = 0
    while number < len(steps):
        step = steps[number]
        await asyncio.sleep(rng.uniform(0.2, 1.2))  # reading the question, then pressing
        later = [k for k in range(number + 1, len(steps)) if steps[k].kind == "press"]
        expect = step.expect

        def fits(sent: Sent, expect: str | None = expect, later: list[int] = later) -> bool:
            offered = sent.callback_data
            return expect in offered or any(steps[k].data in offered for k in later)

        reply = await resident.step(
            step.kind, step.data, None if expect is None else fits, patience, tries
        )
        if reply is None:
            resident.stats.journeys_failed += 1
            offered = resident.last.callback_data[:3] if resident.last else []
            resident.stats.failed_steps[f"{step.data} -> {offered}"] += 1
            return False
        if expect is None:
            resident.stats.confirmed.add(resident.user_id)
            return True
        if expect in reply.callback_data:
            number += 1
        else:
            number = next(k for k in later if steps[k].data in reply.callback_data)
    return False


@dataclass(frozen=True)
class Pools:
    """What residents type: questions per language, crisis messages per language."""

    questions: dict[str, list[str]]
    crisis: dict[str, list[str]]

    @classmethod
    def load(cls) -> Pools:
        items = load_questions()
        questions = {
            lang: [q["q"] for q in items if q["lang"] == lang and q["topic"] != "CRISIS"]
            for lang in ("nb", "en")
        }
        crisis = {
            lang: [q["q"] for q in items if q["lang"] == lang and q["topic"] == "CRISIS"]
            for lang in ("nb", "en")
        }
        for lang in ("nb", "en"):
            crisis[lang] = crisis[lang] or crisis["nb"]
        return cls(questions, crisis)

    def question(self, lang: str, rng: random.Random) -> str:
        return rng.choice(self.questions[lang])

    def crisis_message(self, lang: str, rng: random.Random) -> str:
        return rng.choice(self.crisis[lang])


async def asking(
    resident: Resident,
    pools: Pools,
    rng: random.Random,
    stop: asyncio.Event,
    think: float,
    patience: float = PATIENCE,
) -> None:
    """Questions (one in twenty a crisis message) until `stop`, `think` s apart on average."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), rng.uniform(0.5, 1.5) * think)
        if stop.is_set():
            return
        crisis = rng.random() < 0.05
        text = (
            pools.crisis_message(resident.lang, rng)
            if crisis
            else pools.question(resident.lang, rng)
        )
        await resident.step("say", text, patience=patience)


# --- the outbox -------------------------------------------------------------------------------


def announcement(lang_text: str) -> dict[str, Any]:
    return {"text": lang_text, "buttons": [], "parse_mode": None}


async def seed_broadcast(config: Config, content: Content, recipients: list[int]) -> None:
    """An office announcement to every recipient, in the outbox (as the announce flow does)."""
    services = await create_services(config, content=content)
    try:
        text = (
            "Informasjonsmøte om selvhjelpsgrupper\n"
            "Tirsdag kl. 18:00 på Frivilligsentralen. Velkommen!"
        )
        rows = [
            (
                services.user_key(chat),
                services.cipher.encrypt(chat, services.user_key(chat)),
                announcement(text),
            )
            for chat in recipients
        ]
        added = await services.storage.enqueue(CAMPAIGN, rows)
        if added != len(recipients):
            raise RuntimeError(f"enqueued {added} rows, expected {len(recipients)}")
    finally:
        await services.storage.close()


async def read_database(data_dir: Path) -> tuple[set[str], dict[str, int], str]:
    """(user keys with a registration, the campaign's outbox counts, integrity_check)."""
    storage = await Storage.open(data_dir / DATABASE_NAME, time.time)
    try:
        keys = {r.user_key for r in await storage.registrations_in()}
        progress = await storage.campaign_progress(CAMPAIGN)
    finally:
        await storage.close()
    return keys, progress, integrity(data_dir / DATABASE_NAME)


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return ",".join(str(row[0]) for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


async def wait_for(predicate: Callable[[], bool], within: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step)
    return True


# --- the fault phases -------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    fault: Fault | None
    seconds: float
    started: float = 0.0
    healed: float = 0.0
    recovery: float | None = None  # seconds from heal to the probe's answer
    faulted: int = 0  # calls the fault met
    delivered: int = 0  # broadcast messages delivered during the phase


def phases(down_seconds: float) -> list[Phase]:
    send = frozenset({"sendMessage", "editMessageText", "answerCallbackQuery"})
    return [
        Phase("healthy", None, 10),
        Phase(f"down {down_seconds:.0f}s (refused)", Fault("down"), down_seconds),
        Phase("500 on every call", Fault("status", status=500), 15),
        Phase("502 on half the calls", Fault("status", status=502, share=0.5), 15),
        Phase(
            "429 retry_after=3, half the sends",
            Fault("flood", retry_after=3, share=0.5, methods=send),
            15,
        ),
        Phase("hang 30s, not served", Fault("hang", hang=30.0), 20),
        Phase(
            "hang 30s after serving sends",
            Fault("hang", hang=30.0, served=True, methods=frozenset({"sendMessage"})),
            10,
        ),
        Phase("connections closed unanswered", Fault("close"), 10),
        Phase("healthy (drain)", None, 0),
    ]


async def probe(
    server: FakeTelegramServer, chats: Chats, stats: Stats, patience: float
) -> float | None:
    """Seconds from now until a fresh question is answered (None: not within `patience`)."""
    resident = Resident(PROBE_USER, "nb", server, chats, stats)
    started = time.monotonic()
    reply = await resident.step("say", "hva koster det", patience=patience, tries=1)
    return None if reply is None else time.monotonic() - started


async def run_phases(
    server: FakeTelegramServer, chats: Chats, stats: Stats, plan: list[Phase]
) -> None:
    for phase in plan:
        before = sum(server.faulted.values())
        delivered = len(chats.delivered_at)
        phase.started = time.monotonic()
        if phase.fault is not None:
            server.inject(phase.fault)
        print(f"  phase: {phase.name}", file=sys.stderr, flush=True)
        await asyncio.sleep(phase.seconds)
        if phase.fault is not None:
            server.heal()
        phase.healed = time.monotonic()
        phase.faulted = sum(server.faulted.values()) - before
        if phase.fault is not None:
            phase.recovery = await probe(server, chats, stats, patience=90.0)
        phase.delivered = len(chats.delivered_at) - delivered


@dataclass
class MainResult:
    stats: Stats
    plan: list[Phase]
    recipients: int
    deliveries: Counter[int]
    registrations: int
    stored: int
    lost_registrations: int
    unconfirmed_stored: int
    outbox: dict[str, int]
    integrity: str
    problems: Counter[str]
    confirmed_updates: int
    pending_updates: int
    rss_mb: float
    exit_code: int


async def main_run(args: argparse.Namespace, content: Content, work: Path) -> MainResult:
    rng = random.Random(args.seed)
    data_dir = work / "main"
    data_dir.mkdir()
    config_path = write_config(data_dir, args.rate)
    config = config_for(data_dir, config_path)
    recipients = [FIRST_RECIPIENT + i for i in range(args.recipients)]
    await seed_broadcast(config, content, recipients)
    server = FakeTelegramServer(token=TOKEN)
    base_url = await server.start()
    chats = Chats(server, set(recipients))
    stats = Stats()
    bot = BotProcess(base_url, data_dir, config_path, work / "main-bot.log")
    pools = Pools.load()
    try:
        startup = await bot.start(server)
        print(f"  bot started and polling in {startup:.1f}s", file=sys.stderr, flush=True)
        people = choices(config, args.residents)
        journeys = people[: args.residents // 3]
        askers = people[args.residents // 3 :]
        stop = asyncio.Event()
        tasks: list[asyncio.Task[Any]] = []

        async def later_journey(choice: Choice, delay: float) -> bool:
            await asyncio.sleep(delay)
            resident = Resident(choice.user_id, choice.lang, server, chats, stats)
            return await journey(resident, choice, rng, args.patience)

        plan = phases(args.down_seconds)
        span = sum(p.seconds for p in plan)
        for choice in journeys:  # spread over the faults, so journeys meet every phase
            tasks.append(asyncio.create_task(later_journey(choice, rng.uniform(0, span))))
        for choice in askers:
            resident = Resident(choice.user_id, choice.lang, server, chats, stats)
            asks = asking(resident, pools, rng, stop, args.think, args.patience)
            tasks.append(asyncio.create_task(asks))
        await run_phases(server, chats, stats, plan)
        stop.set()
        await asyncio.gather(*tasks)
        drained = await wait_for(
            lambda: len(chats.deliveries) >= len(recipients), within=args.drain_seconds
        )
        if not drained:
            print("  the broadcast did not finish in time", file=sys.stderr)
        await asyncio.sleep(1.0)  # the last getUpdates offset confirms what was handled
        rss = bot.rss_mb()
        exit_code = await bot.terminate()
    finally:
        bot.kill()
        await server.stop()
    keys, outbox, check = await read_database(data_dir)
    services = await create_services(config, content=content)
    try:
        confirmed_keys = {services.user_key(uid) for uid in stats.confirmed}
        journey_keys = {services.user_key(c.user_id) for c in journeys}
    finally:
        await services.storage.close()
    last_id = max(stats.update_ids) if stats.update_ids else 0
    return MainResult(
        stats=stats,
        plan=plan,
        recipients=len(recipients),
        deliveries=chats.deliveries,
        registrations=len(confirmed_keys),
        stored=len(keys & journey_keys),
        lost_registrations=len(confirmed_keys - keys),
        unconfirmed_stored=len((keys & journey_keys) - confirmed_keys),
        outbox=outbox,
        integrity=check,
        problems=logged_problems(bot.log_lines()),
        confirmed_updates=sum(1 for u in stats.update_ids if u <= server.confirmed_offset),
        pending_updates=sum(1 for u in stats.update_ids if u > server.confirmed_offset)
        if last_id
        else 0,
        rss_mb=rss,
        exit_code=exit_code,
    )


# --- full disk --------------------------------------------------------------------------------


@dataclass
class DiskResult:
    clear_lines: int
    other_errors: int
    answered_while_full: int
    asked_while_full: int
    writes_refused: int
    integrity: str
    answered_after: bool


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def disk_full_run(content: Content, work: Path) -> DiskResult:
    """The bot in this process (bot/lifecycle.py, polling the fake, its scheduler and sender
    running), its database capped at its current size."""
    data_dir = work / "disk"
    data_dir.mkdir()
    server = FakeTelegramServer(token=TOKEN)
    base_url = await server.start()
    raw = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": base_url,
        "SELVHJELP_DATA_DIR": str(data_dir),
        "SELVHJELP_KEY_FILE": str(data_dir / "key" / "secret.key"),
    }
    config = parse_config(raw, env, str(CONFIG_PATH))
    services = await create_services(config, content=content)
    chats = Chats(server, set())
    stats = Stats()
    capture = _Capture()
    logging.getLogger().addHandler(capture)
    pools = Pools.load()
    rng = random.Random(3)
    result: DiskResult
    try:
        async with running_bot(config, mode="polling", services=services, poll_timeout=2):
            people = choices(config, 40)
            # Full: the database may not grow by a single page from now on.
            conn = services.storage._conn  # the benchmark caps the file
            async with conn.execute("PRAGMA page_count") as cur:
                row = await cur.fetchone()
            pages = int(row[0]) if row else 1
            await conn.execute(f"PRAGMA max_page_count = {pages}")
            # Residents keep writing (registrations, flow state, languages) until it is full.
            await asyncio.gather(
                *(
                    journey(Resident(c.user_id, c.lang, server, chats, stats), c, rng, 5.0, 1)
                    for c in people
                )
            )
            refused = sum(
                1 for r in capture.records if "full" in r.getMessage() or "disk" in r.getMessage()
            )
            # Questions need no write: they must still be answered.
            asked = 30
            before = stats.answered
            askers = [
                Resident(FIRST_RESIDENT + 5000 + i, "nb" if i % 3 else "en", server, chats, stats)
                for i in range(asked)
            ]
            await asyncio.gather(
                *(r.step("say", pools.question(r.lang, rng), tries=1) for r in askers)
            )
            answered_full = stats.answered - before
            # Room again (the operator freed space): answered and written as before.
            await conn.execute("PRAGMA max_page_count = 1073741823")
            after = Resident(FIRST_RESIDENT + 9000, "nb", server, chats, stats)
            ok = await after.step("say", "/interest", offers("i:e:yes"), tries=1)
    finally:
        logging.getLogger().removeHandler(capture)
        await services.storage.close()
        await server.stop()
    clear = [r for r in capture.records if "disk is full" in r.getMessage()]
    others = [
        r
        for r in capture.records
        if r.levelno >= logging.ERROR and "disk is full" not in r.getMessage()
    ]
    result = DiskResult(
        clear_lines=len(clear),
        other_errors=len(others),
        answered_while_full=answered_full,
        asked_while_full=asked,
        writes_refused=refused,
        integrity=integrity(data_dir / DATABASE_NAME),
        answered_after=ok is not None,
    )
    if clear:
        print(f"  disk full, logged as: {clear[0].getMessage()}", file=sys.stderr)
    for record in others[:3]:
        print(f"  disk full, other error: {record.getMessage()[:160]}", file=sys.stderr)
    return result


# --- SIGTERM in the middle of a broadcast ------------------------------------------------------


@dataclass
class SigtermResult:
    recipients: int
    delivered_before: int
    lost: int
    duplicates: int
    in_flight_max: int
    exit_code: int
    updates: int
    answered: int
    stop_seconds: float
    outbox: dict[str, int]


async def sigterm_run(
    content: Content, work: Path, recipients_count: int, rate: float
) -> SigtermResult:
    """Stop the bot with SIGTERM half way through a broadcast, start it again, count."""
    data_dir = work / "sigterm"
    data_dir.mkdir()
    config_path = write_config(data_dir, rate)
    config = config_for(data_dir, config_path)
    recipients = [FIRST_RECIPIENT + 50_000 + i for i in range(recipients_count)]
    await seed_broadcast(config, content, recipients)
    # Each send takes 50 ms on the server, so several are in flight at the stop.
    server = FakeTelegramServer(token=TOKEN, latency=0.05)
    base_url = await server.start()
    chats = Chats(server, set(recipients))
    stats = Stats()
    in_flight = 0
    in_flight_max = 0
    calls = server.fake

    # Requests under way at the server = those the bot had in flight when it stopped.
    original = server._call

    async def counting(method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        nonlocal in_flight, in_flight_max
        if method != "sendMessage":
            return await original(method, params)
        in_flight += 1
        in_flight_max = max(in_flight_max, in_flight)
        try:
            return await original(method, params)
        finally:
            in_flight -= 1

    server._call = counting  # type: ignore[method-assign]
    del calls
    bot = BotProcess(base_url, data_dir, config_path, work / "sigterm-bot.log")
    residents = [
        Resident(FIRST_RESIDENT + 20_000 + i, "nb", server, chats, stats) for i in range(10)
    ]
    try:
        await bot.start(server)
        in_flight_max = 0
        await wait_for(lambda: len(chats.deliveries) >= recipients_count // 2, 120, 0.005)
        delivered_before = len(chats.deliveries)
        # Residents' questions arrive around the stop, too: none may be lost.
        asks = [
            asyncio.create_task(r.step("say", "hva koster det", patience=60, tries=1))
            for r in residents
        ]
        await asyncio.sleep(0.01)
        stopping = time.monotonic()
        exit_code = await bot.terminate()
        stop_seconds = time.monotonic() - stopping
        at_stop = in_flight_max
        await asyncio.sleep(0.2)
        await bot.start(server)
        await asyncio.gather(*asks)
        await wait_for(lambda: len(chats.deliveries) >= recipients_count, 120)
        await asyncio.sleep(1.0)
        await bot.terminate()
    finally:
        bot.kill()
        await server.stop()
    _keys, outbox, _check = await read_database(data_dir)
    return SigtermResult(
        recipients=recipients_count,
        delivered_before=delivered_before,
        lost=sum(1 for r in recipients if chats.deliveries[r] == 0),
        duplicates=sum(n - 1 for n in chats.deliveries.values() if n > 1),
        in_flight_max=at_stop,
        exit_code=exit_code,
        updates=len(stats.sent),
        answered=stats.answered,
        stop_seconds=stop_seconds,
        outbox=outbox,
    )


# --- report -----------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))
    return ordered[rank]


def report_main(result: MainResult) -> None:
    stats = result.stats
    print(
        f"{'phase':36} {'seconds':>7} {'faulted':>7} {'sent':>5} {'answered':>8}"
        f" {'unanswered':>10} {'p95_s':>6} {'bcast':>5} {'recovery_s':>10}"
    )
    for number, phase in enumerate(result.plan):
        end = result.plan[number + 1].started if number + 1 < len(result.plan) else float("inf")
        inside = [t for t in stats.sent if phase.started <= t < end]
        lat = [s for t, s in stats.latencies if phase.started <= t < end]
        missed = [t for t in stats.unanswered if phase.started <= t < end]
        recovery = (
            "-"
            if phase.fault is None
            else ("never" if phase.recovery is None else f"{phase.recovery:.1f}")
        )
        print(
            f"{phase.name:36} {phase.seconds:7.0f} {phase.faulted:7d} {len(inside):5d}"
            f" {len(lat):8d} {len(missed):10d} {percentile(lat, 0.95):6.2f}"
            f" {phase.delivered:5d} {recovery:>10}"
        )
    print(
        f"updates: sent={len(stats.sent)} confirmed_by_bot={result.confirmed_updates}"
        f" still_queued={result.pending_updates} answered={stats.answered}"
        f" unanswered={len(stats.unanswered)} (their resident asked again)"
    )
    dup = sum(n - 1 for n in result.deliveries.values() if n > 1)
    lost = result.recipients - len([c for c, n in result.deliveries.items() if n > 0])
    print(
        f"registrations: confirmed={result.registrations} stored={result.stored}"
        f" lost={result.lost_registrations} stored_without_confirmation="
        f"{result.unconfirmed_stored} journeys_given_up={stats.journeys_failed}"
    )
    print(
        f"broadcast: recipients={result.recipients} delivered={len(result.deliveries)}"
        f" duplicates={dup} lost={lost} outbox={result.outbox}"
    )
    print(
        f"bot: exit_code={result.exit_code} rss_mb={result.rss_mb:.0f}"
        f" integrity_check={result.integrity}"
    )
    print(
        "logged: " + (", ".join(f"{k}={n}" for k, n in result.problems.most_common()) or "nothing")
    )


async def bench(args: argparse.Namespace) -> int:
    content = load_content()
    wall = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="selvhjelp-faults-") as tmp:
        work = Path(tmp)
        print("main run: residents, a broadcast and the fault phases", file=sys.stderr)
        result = await main_run(args, content, work)
        report_main(result)
        print("full disk", file=sys.stderr, flush=True)
        disk = await disk_full_run(content, work)
        disk_ok = (
            disk.clear_lines > 0
            and disk.integrity == "ok"
            and disk.answered_while_full == disk.asked_while_full
            and disk.answered_after
        )
        print(
            f"disk full: clear_log_lines={disk.clear_lines} other_errors={disk.other_errors}"
            f" questions_answered_while_full={disk.answered_while_full}/{disk.asked_while_full}"
            f" answered_after_space_freed={disk.answered_after}"
            f" integrity_check={disk.integrity}"
        )
        print("SIGTERM mid-broadcast", file=sys.stderr, flush=True)
        term = await sigterm_run(content, work, args.recipients, args.sigterm_rate)
        print(
            f"sigterm: recipients={term.recipients} delivered_before_stop={term.delivered_before}"
            f" exit_code={term.exit_code} stop_s={term.stop_seconds:.1f}"
            f" in_flight_at_stop<={term.in_flight_max} lost={term.lost}"
            f" duplicates={term.duplicates} questions_around_stop={term.updates}"
            f" answered={term.answered} outbox={term.outbox}"
        )
    stats = result.stats
    recoveries = [p.recovery for p in result.plan if p.fault is not None]
    worst = max((r for r in recoveries if r is not None), default=0.0)
    never = any(r is None for r in recoveries)
    lost_updates = len(stats.sent) - result.confirmed_updates
    dup = sum(n - 1 for n in result.deliveries.values() if n > 1)
    # Calls served whose answer never came back: the only ones a retry can duplicate.
    in_flight = sum(
        p.faulted for p in result.plan if p.fault and p.fault.kind == "hang" and p.fault.served
    )
    lost_messages = result.recipients - len([c for c, n in result.deliveries.items() if n > 0])
    errors = sum(n for k, n in result.problems.items() if not k.startswith("WARNING"))
    ok = (
        lost_updates == 0
        and result.lost_registrations == 0
        and lost_messages == 0
        and dup <= in_flight
        and not never
        and disk_ok
        and term.lost == 0
        and term.duplicates <= term.in_flight_max
        and term.answered == term.updates
        and result.integrity == "ok"
    )
    print(f"(took {time.monotonic() - wall:.0f}s)", file=sys.stderr)
    print(
        f"faults updates={len(stats.sent)} confirmed={result.confirmed_updates}"
        f" answered={stats.answered} lost_updates={lost_updates}"
        f" registrations={result.registrations} stored={result.stored}"
        f" lost_registrations={result.lost_registrations}"
        f" broadcast={result.recipients} delivered={len(result.deliveries)} duplicates={dup}"
        f" in_flight_unanswered={in_flight} lost_messages={lost_messages}"
        f" recovery_max_s={'never' if never else f'{worst:.1f}'}"
        f" errors_logged={errors} warnings_logged="
        f"{sum(n for k, n in result.problems.items() if k.startswith('WARNING'))}"
        f" disk_full={'ok' if disk_ok else 'FAILED'}"
        f" sigterm_lost={term.lost} sigterm_duplicates={term.duplicates}"
        f" sigterm_in_flight={term.in_flight_max}" + ("" if ok else " FAILED"),
        flush=True,
    )
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faults")
    parser.add_argument("--down-seconds", type=float, default=45.0, help="10-60 s of outage")
    parser.add_argument("--residents", type=int, default=150)
    parser.add_argument("--recipients", type=int, default=300)
    parser.add_argument("--rate", type=float, default=2.0, help="sending rate of the main run")
    parser.add_argument("--sigterm-rate", type=float, default=25.0)
    parser.add_argument("--think", type=float, default=8.0, help="seconds between questions")
    parser.add_argument("--drain-seconds", type=float, default=240.0)
    parser.add_argument(
        "--patience",
        type=float,
        default=90.0,
        help="seconds a resident waits for a reply before asking again (longer than the "
        "outage, so an unanswered update is one whose reply was lost, not a late one)",
    )
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    sys.exit(asyncio.run(bench(args)))


if __name__ == "__main__":
    main()
