"""A soak run: ten minutes of mixed traffic from a few hundred residents through the real
polling loop, so a slow leak or a creeping latency would show.

    python -m bench.soak [--seconds 600] [--residents 300] [--think 15] [--seed S]

The bot runs as `python -m bot run` (a child process, as in production) with
TELEGRAM_API_BASE_URL at the fake Bot API (bot/offline/fake_bot_server.py) on 127.0.0.1 in
this process, on a temporary data folder. Each simulated resident (distinct chat ids, every
fifth with an English client) acts every `think` seconds on average (uniformly 0.3-1.7x) and
waits for the reply before going on: a question in nb or en (tests/data/questions.yaml), a
crisis message, the whole /interest journey by its buttons, /mine, a withdrawal (/mine, then
its buttons), /forget (and its yes), /start or /faq.

Printed: the bot's resident memory (VmRSS) at start, every minute and at the end; per minute
the updates sent, answered and unanswered (no reply within 30 s) and the latency percentiles
p50/p95/p99 from an update's arrival at the fake server to the bot's first reply (and the
machine's load average, since the bot shares the cores with this process); then the
same overall, the WARNING/ERROR lines in the bot's log, whether the database holds exactly
the registrations the residents left, and one final line:

    soak seconds=S residents=R updates=U answered=A unanswered=N p50_ms=.. p95_ms=.. p99_ms=..
      rss_start_mb=.. rss_end_mb=.. rss_max_mb=.. errors_logged=E registrations_ok=yes
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.faults import (
    TOKEN,
    BotProcess,
    Chats,
    Pools,
    Resident,
    Stats,
    config_for,
    integrity,
    journey,
    logged_problems,
    offers,
    percentile,
    pressable,
    write_config,
)
from bench.register import Choice, choices
from bot.composition import DATABASE_NAME, create_services
from bot.content import load_content
from bot.offline.fake_bot_server import FakeTelegramServer
from bot.storage import Storage

PATIENCE = 30.0  # seconds without a reply before an update counts as unanswered
ACTIONS = (  # (action, weight)
    ("question", 55),
    ("crisis", 5),
    ("interest", 12),
    ("mine", 8),
    ("withdraw", 6),
    ("forget", 4),
    ("start", 5),
    ("faq", 5),
)


class Person:
    """A resident and what they have registered."""

    def __init__(self, resident: Resident, choice: Choice) -> None:
        self.resident = resident
        self.choice = choice
        self.registered = False


async def act(person: Person, action: str, pools: Pools, rng: random.Random) -> None:
    resident = person.resident
    lang = resident.lang
    if action == "question":
        await resident.step("say", pools.question(lang, rng), patience=PATIENCE, tries=1)
    elif action == "crisis":
        await resident.step("say", pools.crisis_message(lang, rng), patience=PATIENCE, tries=1)
    elif action == "interest":
        if person.registered:  # /interest shows what is registered
            await resident.step("say", "/interest", patience=PATIENCE, tries=1)
        elif await journey(resident, person.choice, rng):
            person.registered = True
    elif action == "mine":
        await resident.step("say", "/mine", patience=PATIENCE, tries=1)
    elif action == "withdraw":
        if not person.registered:
            await resident.step("say", "/mine", patience=PATIENCE, tries=1)
            return
        shown = await resident.step("say", "/mine", offers("i:w"), patience=PATIENCE, tries=1)
        if shown is None:
            return
        await asyncio.sleep(rng.uniform(0.3, 1.0))
        ask = await resident.step("press", "i:w", offers("i:wy"), patience=PATIENCE, tries=1)
        if ask is None:
            return
        await asyncio.sleep(rng.uniform(0.3, 1.0))
        if await resident.step("press", "i:wy", patience=PATIENCE, tries=1) is not None:
            person.registered = False
    elif action == "forget":
        asked = await resident.step("say", "/forget", patience=PATIENCE, tries=1)
        yes = pressable(asked, "forget:yes")
        if yes is None:
            return
        await asyncio.sleep(rng.uniform(0.3, 1.0))
        if await resident.step("press", yes, patience=PATIENCE, tries=1) is not None:
            person.registered = False
    elif action == "start":
        await resident.step("say", "/start", patience=PATIENCE, tries=1)
    else:
        await resident.step("say", "/faq", patience=PATIENCE, tries=1)


async def live(
    person: Person, pools: Pools, rng: random.Random, stop: asyncio.Event, think: float
) -> None:
    names = [a for a, _ in ACTIONS]
    weights = [w for _, w in ACTIONS]
    # Start spread over the first think interval, not all at once.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), rng.uniform(0, think))
    while not stop.is_set():
        await act(person, rng.choices(names, weights)[0], pools, rng)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), rng.uniform(0.3, 1.7) * think)


def window_line(label: str, stats: Stats, start: float, end: float, rss: float | None) -> str:
    sent = [t for t in stats.sent if start <= t < end]
    lat = [s for t, s in stats.latencies if start <= t < end]
    missed = [t for t in stats.unanswered if start <= t < end]
    # The machine's 1-minute load average: the bot shares it with this process (and others).
    rss_text = f" rss_mb={rss:.1f} load={os.getloadavg()[0]:.1f}" if rss is not None else ""
    return (
        f"{label:>8} updates={len(sent):5d} answered={len(lat):5d} unanswered={len(missed):3d}"
        f" p50_ms={percentile(lat, 0.50) * 1000:6.1f} p95_ms={percentile(lat, 0.95) * 1000:6.1f}"
        f" p99_ms={percentile(lat, 0.99) * 1000:6.1f}{rss_text}"
    )


async def soak(args: argparse.Namespace) -> int:
    content = load_content()
    rng = random.Random(args.seed)
    pools = Pools.load()
    with tempfile.TemporaryDirectory(prefix="selvhjelp-soak-") as tmp:
        work = Path(tmp)
        data_dir = work / "data"
        data_dir.mkdir()
        config_path = write_config(data_dir, 25.0)
        config = config_for(data_dir, config_path)
        server = FakeTelegramServer(token=TOKEN)
        base_url = await server.start()
        chats = Chats(server, set())
        stats = Stats()
        bot = BotProcess(base_url, data_dir, config_path, work / "bot.log")
        people: list[Person] = []
        rss_samples: list[float] = []
        try:
            startup = await bot.start(server)
            await asyncio.sleep(1.0)
            rss_start = bot.rss_mb()
            rss_samples.append(rss_start)
            print(f"bot polling after {startup:.1f}s; rss_mb at start={rss_start:.1f}", flush=True)
            for choice in choices(config, args.residents):
                resident = Resident(choice.user_id, choice.lang, server, chats, stats)
                people.append(Person(resident, choice))
            stop = asyncio.Event()
            began = time.monotonic()
            stats.started = began
            tasks = [
                asyncio.create_task(live(p, pools, random.Random(rng.random()), stop, args.think))
                for p in people
            ]
            minute = 0
            while time.monotonic() - began < args.seconds:
                next_mark = began + (minute + 1) * 60.0
                end = min(next_mark, began + args.seconds)
                await asyncio.sleep(max(0.0, end - time.monotonic()))
                rss = bot.rss_mb()
                rss_samples.append(rss)
                start = began + minute * 60.0
                label = f"min {minute + 1}"
                print(window_line(label, stats, start, end, rss), flush=True)
                minute += 1
            stop.set()
            await asyncio.gather(*tasks)  # each finishes the action it is in
            await asyncio.sleep(1.0)
            rss_end = bot.rss_mb()
            rss_samples.append(rss_end)
            exit_code = await bot.terminate()
        finally:
            bot.kill()
            await server.stop()
        problems = logged_problems(bot.log_lines())
        storage = await Storage.open(data_dir / DATABASE_NAME, time.time)
        try:
            stored = {r.user_key for r in await storage.registrations_in()}
        finally:
            await storage.close()
        check = integrity(data_dir / DATABASE_NAME)
        services = await create_services(config, content=content)
        try:
            expected = {services.user_key(p.choice.user_id) for p in people if p.registered}
        finally:
            await services.storage.close()
    print(window_line("overall", stats, began, float("inf"), None))
    kinds = Counter(stats.kinds)
    print(
        f"updates by kind: {dict(kinds)}; journeys confirmed={len(stats.confirmed)}"
        f" given up={stats.journeys_failed} {dict(stats.failed_steps.most_common(5))}"
    )
    print(
        f"database: registrations stored={len(stored)} expected={len(expected)}"
        f" missing={len(expected - stored)} unexpected={len(stored - expected)}"
        f" integrity_check={check}; bot exit code on SIGTERM={exit_code}"
    )
    print("logged: " + (", ".join(f"{k}={n}" for k, n in problems.most_common()) or "nothing"))
    lat = [s for _t, s in stats.latencies]
    errors = sum(n for k, n in problems.items() if not k.startswith("WARNING"))
    registrations_ok = stored == expected and check == "ok"
    print(
        f"soak seconds={args.seconds:.0f} residents={args.residents} updates={len(stats.sent)}"
        f" answered={stats.answered} unanswered={len(stats.unanswered)}"
        f" p50_ms={percentile(lat, 0.5) * 1000:.1f} p95_ms={percentile(lat, 0.95) * 1000:.1f}"
        f" p99_ms={percentile(lat, 0.99) * 1000:.1f} rss_start_mb={rss_start:.1f}"
        f" rss_end_mb={rss_end:.1f} rss_max_mb={max(rss_samples):.1f}"
        f" errors_logged={errors} registrations_ok={'yes' if registrations_ok else 'no'}",
        flush=True,
    )
    return 0 if registrations_ok and not stats.unanswered and errors == 0 else 1


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--residents", type=int, default=300)
    parser.add_argument("--think", type=float, default=15.0, help="mean seconds between acts")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    sys.exit(asyncio.run(soak(args)))


if __name__ == "__main__":
    main()
