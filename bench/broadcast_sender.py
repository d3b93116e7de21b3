"""The sending process of `python -m bench.broadcast`: the real Sender over real HTTP.

Runs in its own OS process (started by bench.broadcast with multiprocessing's "spawn"), so the
benchmark can SIGKILL it half way and start it again on the same database. It builds Services
exactly as the bot does (`create_services` on config.yaml with the benchmark's data folder and
rate), a python-telegram-bot `Bot` with the real `HTTPXRequest` pointed at the fake server, and
runs `Sender.run_until_idle` until the outbox has nothing pending.

The only thing changed in the Sender is where it keeps its `in_flight` count: in memory shared
with the parent, so the parent can read how many requests were under way at the moment of the
kill. The count is the Sender's own (the attribute it documents for benchmarks); nothing about
how it sends changes. Beside it a LagMeter task (a 2 ms ticker, a percent or so of one core)
records the event loop's stalls for the report.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import yaml
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.composition import create_services
from bot.config import Config, parse_config
from bot.outbox.sender import Sender, SendReport
from bot.services import Services

ROOT = Path(__file__).resolve().parent.parent
CONFIG_PATH = ROOT / "config.yaml"
TOKEN = "1000000001:broadcast-bench"
RUN_TIMEOUT = 170.0  # seconds; a sender that has not finished by then is reported, not awaited

# Layout of the shared int64 array the parent reads.
IN_FLIGHT = 0  # requests the Sender has under way right now
DONE = 1  # 1 once run_until_idle returned
SENT, BLOCKED, FAILED, RETRIED, DEFERRED = 2, 3, 4, 5, 6
LAG_MAX_US, STALLS, STALLED_US = 7, 8, 9  # this process's event-loop stalls (see LagMeter)
SHARED_SIZE = 10

LAG_TICK = 0.002  # seconds between the lag meter's wake-ups
STALL = 0.010  # a wake-up this much late counts as a stall


class LagMeter:
    """How late a 2 ms sleep wakes up: when the event loop is busy (JSON, crypto, GC,
    pacing code), every request it should start meanwhile is late too. Live in `shared`
    (when given), so the figures survive a SIGKILL."""

    def __init__(self, shared: Any = None, offset: int = LAG_MAX_US) -> None:
        self.shared = shared
        self.offset = offset
        self.max_lag = 0.0
        self.stalls = 0
        self.stalled = 0.0  # seconds of lateness summed over the stalls

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_TICK)
            lag = loop.time() - before - LAG_TICK
            if lag > self.max_lag:
                self.max_lag = lag
            if lag >= STALL:
                self.stalls += 1
                self.stalled += lag
            if self.shared is not None:
                self.shared[self.offset] = int(self.max_lag * 1e6)
                self.shared[self.offset + 1] = self.stalls
                self.shared[self.offset + 2] = int(self.stalled * 1e6)

    def describe(self) -> str:
        return (
            f"max_lag_ms={self.max_lag * 1000:.0f} stalls_over_{STALL * 1000:.0f}ms="
            f"{self.stalls} stalled_s={self.stalled:.2f}"
        )


def describe_shared_lag(shared: Any) -> str:
    meter = LagMeter()
    meter.max_lag = shared[LAG_MAX_US] / 1e6
    meter.stalls = int(shared[STALLS])
    meter.stalled = shared[STALLED_US] / 1e6
    return meter.describe()


def bench_config(data_dir: str, rate: float) -> Config:
    """The repository's config.yaml with the benchmark's data folder and sending rate."""
    raw: dict[str, Any] = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
    raw.setdefault("sending", {})["rate_per_second"] = rate
    # The key inside the temporary folder, so it goes with it (not beside it, the default).
    env = {"SELVHJELP_DATA_DIR": data_dir, "SELVHJELP_KEY_FILE": f"{data_dir}/key/secret.key"}
    return parse_config(raw, env, str(CONFIG_PATH))


class SharedCountSender(Sender):
    """The real Sender, with `in_flight` stored in shared memory instead of on the object."""

    def __init__(self, services: Services, shared: Any) -> None:
        self._shared = shared  # before Sender.__init__, which sets in_flight = 0
        super().__init__(services)

    @property
    def in_flight(self) -> int:
        return int(self._shared[IN_FLIGHT])

    @in_flight.setter
    def in_flight(self, value: int) -> None:
        self._shared[IN_FLIGHT] = value


async def send_all(data_dir: str, base_url: str, rate: float, shared: Any) -> SendReport:
    """Send every pending outbox row through the fake server; the Sender's report."""
    services = await create_services(bench_config(data_dir, rate))
    meter = asyncio.create_task(LagMeter(shared).run())
    try:
        sender = SharedCountSender(services, shared)
        # HTTPXRequest's own defaults (a pool of 256 connections), as ApplicationBuilder gives
        # the production bot for everything but getUpdates.
        bot = Bot(TOKEN, base_url=base_url, request=HTTPXRequest())
        async with bot:
            report = await sender.run_until_idle(bot, timeout=RUN_TIMEOUT)
    finally:
        meter.cancel()
        await services.storage.close()
    for index, value in (
        (SENT, report.sent),
        (BLOCKED, report.blocked),
        (FAILED, report.failed),
        (RETRIED, report.retried),
        (DEFERRED, report.deferred),
    ):
        shared[index] = value
    shared[DONE] = 1
    return report


def main(data_dir: str, base_url: str, rate: float, shared: Any) -> None:
    """Process entry point (picklable for multiprocessing's spawn)."""
    # The Sender logs flood-control pauses as warnings; the parent counts 429s itself.
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(send_all(data_dir, base_url, rate, shared))
