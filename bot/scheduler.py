"""Background work of the running bot: retention, weekly digests and the sending queue.

`tick()` does one round of the periodic jobs and is what tests call with an injected clock;
`start()`/`stop()` run ticks every `interval` seconds plus the Sender's loop as asyncio tasks.
Every job is idempotent, so a tick after a restart catches up without doing anything twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Bot

from bot.digest import snapshots
from bot.digest.weekly import enqueue_weekly_digests
from bot.interest.retention import run_retention
from bot.meetings.reminders import enqueue_meeting_reminders
from bot.outbox.progress import report_progress
from bot.outbox.sender import Sender
from bot.poster import link_stats
from bot.services import Services

log = logging.getLogger("selvhjelp.scheduler")
TICK_SECONDS = 60.0


class Scheduler:
    def __init__(self, services: Services, bot: Bot, interval: float = TICK_SECONDS) -> None:
        self.services = services
        self.bot = bot
        self.interval = interval
        self.sender = Sender(services, on_progress=self._progress)
        self._tasks: list[asyncio.Task[None]] = []

    async def _progress(self, campaign: str, counts: dict[str, int]) -> None:
        await report_progress(self.bot, self.services, campaign, counts)

    async def tick(self) -> None:
        """One round of the periodic jobs; new outbox rows wake the sender."""
        await snapshots.take_if_due(self.services)  # the day's figures, just after midnight
        await run_retention(self.services)
        await enqueue_weekly_digests(self.services)
        await enqueue_meeting_reminders(self.services)
        await link_stats.purge_old_tags(self.services)  # poster-link tags of weeks that are over
        self.sender.wake()

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("scheduled jobs failed; trying again next tick")
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._loop(), name="selvhjelp-scheduler"),
            asyncio.create_task(self.sender.run_forever(self.bot), name="selvhjelp-sender"),
        ]

    async def stop(self) -> None:
        self.sender.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
