"""The sending queue under Telegram's limits, a 1% failure rate and a hard kill half way.

    python -m bench.broadcast [--recipients N] [--limit L] [--failure-rate F] [--latency-ms T]
                              [--seed S] [--rate R]

prints a few detail lines on stderr, then one final line on stdout:

    broadcast recipients=N limit_per_s=L achieved_per_s=A ratio=A/L duplicates=D lost=0 restarts=1

Set-up: a temporary data folder gets a database (built by `create_services` from config.yaml
with `sending.rate_per_second = L`, or R when --rate is given) whose outbox holds one
announcement for each of N subscribers (chat ids encrypted with the services' cipher, enqueued
with `storage.enqueue`). The fake Bot API (bot.offline.fake_bot_server on 127.0.0.1) runs in this
process
and plays Telegram:

- a global flood limit of L sendMessage requests per sliding one-second window; a request
  beyond it is answered 429 with `retry_after` (whole seconds, at least 1, as Telegram does).
  Every admitted request counts toward the window, also one that then fails;
- 1% of admitted requests fail transiently with HTTP 500 *before* anything is delivered
  (chosen over a connection reset because a reset after delivery would make duplicates that
  no sender can avoid, which would blur what this benchmark measures: the kill);
- each request takes T ms (default 50) on the server, half before and half after the
  delivery, like a round trip to Telegram, so a realistic number of requests is in flight;
- every successful sendMessage is recorded per chat id, with the run it came in.

The sending process (bench.broadcast_sender) is a separate OS process running the real
`Sender.run_until_idle` with python-telegram-bot's real `HTTPXRequest` (its default pool of 256
connections, as ApplicationBuilder gives the production bot). When the server has recorded N/2
successful sends it is killed with SIGKILL, from inside the request that made the N/2-th
success: that request and every other one under way are lost to it, some delivered and some
not. It is then started again on the same database and left to finish.

Figures (the detail lines):
- duplicates: successful sends to a chat beyond its first; lost: recipients with no successful
  send when the second run has finished (must be 0);
- in_flight_at_kill: the Sender's own count of requests under way when it died; unrecorded:
  rows the server delivered (before or just after the kill) that the database still had
  pending, i.e. the rows the restart has to send again. Targets: duplicates <=
  in_flight_at_kill; duplicates == unrecorded and same_run_duplicates == 0 when the Sender
  never duplicates on its own;
- achieved_per_s: recipients delivered / sending time, where sending time is the first run
  (its first sendMessage request to the kill) plus the second run (its first request to its
  last successful send). The restart gap (process start-up: imports, content, getMe) is
  excluded and printed; everything else, retry-after pauses and back-off waits included, is
  counted. ratio = achieved_per_s / L, target >= 0.9;
- the event-loop stalls of the server and of each sender (a busy or starved loop bunches
  requests up, which a strict window punishes), so a noisy machine shows in the output.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import multiprocessing.process
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from bench import broadcast_sender
from bench.broadcast_sender import LagMeter, bench_config, describe_shared_lag
from bot.composition import DATABASE_NAME, create_services
from bot.offline.fake_bot_api import Call, FakeApiError, FakeTelegram, Sent
from bot.offline.fake_bot_server import FakeTelegramServer
from bot.storage import Storage

RECIPIENTS = 10_000
LIMIT = 200.0
FAILURE_RATE = 0.01
CAMPAIGN = "meeting:bench"
FIRST_CHAT = 600_000_000
LATENCY = 0.05  # seconds per Bot API round trip (Telegram from Europe is tens of ms)
DEADLINE = 170.0  # seconds for the whole run; then the sender is killed and we report failure


@dataclass
class Run:
    """What the server saw of one sending process."""

    number: int
    first_request: float | None = None
    last_success: float | None = None
    requests: int = 0
    successes: int = 0
    flood: int = 0  # answered 429
    errors: int = 0  # answered 500


@dataclass
class FloodGate:
    """Telegram's side: a global sliding-window limit, random server errors, and a record of
    every successful send. Plugged into FakeTelegram as `send_hook` and `on_message`."""

    limit: int
    failure_rate: float
    rng: random.Random
    admitted: list[float] = field(default_factory=list)  # times, oldest first (a ring would do)
    head: int = 0  # admitted[head:] are inside the current window
    deliveries: Counter[int] = field(default_factory=Counter)  # chat id -> successful sends
    delivered_in: dict[int, int] = field(default_factory=dict)  # chat id -> run of 1st success
    same_run_duplicates: int = 0  # a second success to a chat from the same run: a Sender bug
    runs: list[Run] = field(default_factory=list)
    kill_at: int | None = None
    on_kill: Any = None  # called once, synchronously, when kill_at successes are recorded
    fake: FakeTelegram | None = None  # its call and message logs are trimmed as we go

    @property
    def run(self) -> Run:
        return self.runs[-1]

    def hook(self, call: Call) -> None:
        """Admit or refuse one send, before anything is delivered."""
        if call.method != "sendMessage":
            return
        now = time.monotonic()
        run = self.run
        if run.first_request is None:
            run.first_request = now
        run.requests += 1
        while self.head < len(self.admitted) and self.admitted[self.head] <= now - 1.0:
            self.head += 1
        if len(self.admitted) - self.head >= self.limit:
            run.flood += 1
            wait = max(1, math.ceil(self.admitted[self.head] + 1.0 - now))
            raise FakeApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        self.admitted.append(now)
        if self.rng.random() < self.failure_rate:
            run.errors += 1
            raise FakeApiError(500, "Internal Server Error")

    def record(self, sent: Sent) -> None:
        """A successful send: count it per chat, and kill the first run at the half-way mark."""
        if sent.method != "sendMessage":
            return
        if self.fake is not None:
            # Kept here per chat instead: 20,000 logged calls make the server's garbage
            # collector pause for tens of milliseconds, which bunches requests up in the window.
            self.fake.calls.clear()
            self.fake.sent.clear()
        run = self.run
        run.successes += 1
        run.last_success = time.monotonic()
        self.deliveries[sent.chat_id] += 1
        first_run = self.delivered_in.setdefault(sent.chat_id, run.number)
        if self.deliveries[sent.chat_id] > 1 and first_run == run.number:
            self.same_run_duplicates += 1
        if self.kill_at is not None and run.successes >= self.kill_at and self.on_kill:
            on_kill, self.on_kill = self.on_kill, None
            on_kill()


@dataclass
class Kill:
    at: float = 0.0
    in_flight: int = 0
    successes: int = 0
    lag: str = ""


def payload(signed: list[str]) -> dict[str, Any]:
    """An announcement as bot/outbox/sender.py expects it (text and four buttons)."""
    text = (
        "Informasjonsmøte om selvhjelpsgrupper\n"
        "Tirsdag 12. mars kl. 18:00, Frivilligsentralen, Storgata 1\n"
        "Velkommen til en uformell kveld om hvordan selvhjelpsgrupper fungerer."
    )
    labels = ("Legg til i kalender", "Minn meg på", "Jeg kommer", "Stopp disse meldingene")
    buttons = [
        [{"text": label, "callback_data": data}]
        for label, data in zip(labels, signed, strict=True)
    ]
    return {"text": text, "buttons": buttons, "parse_mode": None}


async def seed(data_dir: str, limit: float, recipients: int) -> dict[str, int]:
    """Create the database and enqueue one announcement per subscriber; user key -> chat id."""
    services = await create_services(bench_config(data_dir, limit))
    try:
        chats: dict[str, int] = {}
        rows = []
        for i in range(recipients):
            chat_id = FIRST_CHAT + i
            key = services.user_key(chat_id)
            chats[key] = chat_id
            signed = [services.signer.sign(chat_id, f"mt:{a}:1") for a in ("ics", "rem", "go")]
            signed.append(services.signer.sign(chat_id, "mt:stop:oslo"))
            rows.append((key, services.cipher.encrypt(chat_id, key), payload(signed)))
        added = await services.storage.enqueue(CAMPAIGN, rows)
        if added != recipients:
            raise RuntimeError(f"enqueued {added} rows, expected {recipients}")
    finally:
        await services.storage.close()
    return chats


async def pending_chats(data_dir: str, chats: dict[str, int]) -> set[int]:
    """Chat ids whose outbox row is still pending (read after the kill, before the restart)."""
    storage = await Storage.open(Path(data_dir) / DATABASE_NAME, time.time)
    try:
        rows = await storage.due_outbox(math.inf, len(chats) + 1)
        return {chats[row.recipient] for row in rows}
    finally:
        await storage.close()


async def final_progress(data_dir: str) -> dict[str, int]:
    storage = await Storage.open(Path(data_dir) / DATABASE_NAME, time.time)
    try:
        return await storage.campaign_progress(CAMPAIGN)
    finally:
        await storage.close()


async def wait_exit(process: multiprocessing.process.BaseProcess, deadline: float) -> bool:
    """Wait for the process to end; False (after killing it) when the deadline passes."""
    while process.exitcode is None:
        if time.monotonic() > deadline:
            process.kill()
            process.join()
            return False
        await asyncio.sleep(0.02)
    process.join()
    return True


def fail(message: str) -> NoReturn:
    print(f"broadcast: {message}", file=sys.stderr)
    raise SystemExit(1)


async def bench(
    recipients: int,
    limit: float,
    failure_rate: float,
    seed_value: int,
    rate: float | None = None,
    latency: float = LATENCY,
) -> str:
    rate = limit if rate is None else rate
    deadline = time.monotonic() + DEADLINE
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="selvhjelp-broadcast-") as data_dir:
        chats = await seed(data_dir, rate, recipients)
        fake = FakeTelegram()
        gate = FloodGate(int(limit), failure_rate, random.Random(seed_value), fake=fake)
        fake.send_hook = gate.hook
        fake.on_message = gate.record
        server = FakeTelegramServer(fake, latency=latency)
        base_url = await server.start()
        server_lag = LagMeter()
        lag_task = asyncio.create_task(server_lag.run())
        processes: list[multiprocessing.process.BaseProcess] = []
        try:
            kill = Kill()

            def start(number: int) -> tuple[multiprocessing.process.BaseProcess, Any]:
                gate.runs.append(Run(number))
                shared = ctx.RawArray("q", broadcast_sender.SHARED_SIZE)
                process = ctx.Process(
                    target=broadcast_sender.main,
                    args=(data_dir, base_url, rate, shared),
                    name=f"broadcast-sender-{number}",
                )
                process.start()
                processes.append(process)
                return process, shared

            first, first_shared = start(1)

            def kill_first() -> None:
                # Inside the request that made the kill_at-th success: its answer is not
                # written yet, so the sender dies with (at least) that request in flight.
                kill.at = time.monotonic()
                first.kill()
                first.join(5)
                kill.in_flight = int(first_shared[broadcast_sender.IN_FLIGHT])
                kill.successes = gate.run.successes
                kill.lag = describe_shared_lag(first_shared)

            gate.kill_at = recipients // 2
            gate.on_kill = kill_first
            if not await wait_exit(first, deadline):
                fail("the first sending process did not reach the half-way mark in time")
            if first_shared[broadcast_sender.DONE]:
                fail("the first sending process finished before it could be killed")
            if kill.at == 0.0:
                fail(f"the first sending process died on its own (exit code {first.exitcode})")
            # Requests that reached the server before the kill are still being served: let
            # them land (their sender is gone) before counting what the restart must redo.
            await asyncio.sleep(latency + 0.2)
            late = gate.run.successes - kill.successes  # delivered after the kill
            unrecorded = len(await pending_chats(data_dir, chats) & set(gate.deliveries))

            second, second_shared = start(2)
            if not await wait_exit(second, deadline):
                fail("the restarted sending process did not finish in time")
            if second.exitcode != 0 or not second_shared[broadcast_sender.DONE]:
                fail(f"the restarted sending process failed (exit code {second.exitcode})")
        finally:
            lag_task.cancel()
            for process in processes:  # only on an error path is one still alive
                if process.is_alive():
                    process.kill()
                    process.join()
            await server.stop()
        progress = await final_progress(data_dir)

    run1, run2 = gate.runs
    if run1.first_request is None or run2.first_request is None or run2.last_success is None:
        fail("a sending process never sent")
    sending = (kill.at - run1.first_request) + (run2.last_success - run2.first_request)
    gap = run2.first_request - kill.at
    delivered = len(gate.deliveries)
    lost = recipients - len(set(gate.deliveries) & set(chats.values()))
    duplicates = sum(n - 1 for n in gate.deliveries.values())
    achieved = delivered / sending
    for run in gate.runs:
        print(
            f"run {run.number}: requests={run.requests} ok={run.successes} "
            f"429={run.flood} 500={run.errors}",
            file=sys.stderr,
        )
    print(
        f"kill: in_flight_at_kill={kill.in_flight} unrecorded={unrecorded} "
        f"answered_after_kill={late} same_run_duplicates={gate.same_run_duplicates}",
        file=sys.stderr,
    )
    print(
        f"event loops: server {server_lag.describe()}; sender 1 {kill.lag}; "
        f"sender 2 {describe_shared_lag(second_shared)}",
        file=sys.stderr,
    )
    second_report = ", ".join(
        f"{name}={second_shared[index]}"
        for name, index in (
            ("sent", broadcast_sender.SENT),
            ("blocked", broadcast_sender.BLOCKED),
            ("failed", broadcast_sender.FAILED),
            ("retried", broadcast_sender.RETRIED),
            ("deferred", broadcast_sender.DEFERRED),
        )
    )
    print(
        f"time: sending_s={sending:.1f} (run1={kill.at - run1.first_request:.1f} "
        f"run2={run2.last_success - run2.first_request:.1f}) restart_gap_s={gap:.1f} "
        f"with_gap_per_s={delivered / (sending + gap):.1f}; outbox {progress}; "
        f"run 2 report: {second_report}",
        file=sys.stderr,
    )
    return (
        f"broadcast recipients={recipients} limit_per_s={limit:g} achieved_per_s={achieved:.1f}"
        f" ratio={achieved / limit:.3f} duplicates={duplicates} lost={lost} restarts=1"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=RECIPIENTS)
    parser.add_argument("--limit", type=float, default=LIMIT, help="Telegram's global limit")
    parser.add_argument("--failure-rate", type=float, default=FAILURE_RATE)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="sending.rate_per_second for the Sender (default: the limit, as the target says)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=LATENCY * 1000,
        help="round trip of each Bot API request",
    )
    args = parser.parse_args()
    line = asyncio.run(
        bench(
            args.recipients,
            args.limit,
            args.failure_rate,
            args.seed,
            args.rate,
            args.latency_ms / 1000,
        )
    )
    print(line)


if __name__ == "__main__":
    main()
