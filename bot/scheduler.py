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
from bot.storage import backup
from bot.task_control import cancel_and_wait

log = logging.getLogger("selvhjelp.scheduler")
TICK_SECONDS = 60.0
BACKUP_RETRY_SECONDS = 3600.0


class Scheduler:
    def __init__(self, services: Services, bot: Bot, interval: float = TICK_SECONDS) -> None:
        self.services = services
        self.bot = bot
        self.interval = interval
        self.sender = Sender(services, on_progress=self._progress)
        self._tasks: list[asyncio.Task[None]] = []
        self._backup_retry_at = 0.0

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
        if self.services.config.backup_daily:
            await self._daily_backup()

    async def _daily_backup(self) -> None:
        """One backup per local day (config backup.daily), keeping the newest backup.keep."""
        now = self.services.now()
        if now < self._backup_retry_at:
            return
        try:
            made = await backup.daily_backup_due(self.services.config, now)
        except backup.BackupError as exc:  # file names and reasons only, never data
            self._backup_retry_at = now + BACKUP_RETRY_SECONDS  # a full disk: not every tick
            log.error("daily backup failed: %s; trying again in an hour", exc)
        else:
            if made is not None:
                log.info("daily backup written (%d bytes)", made.size)

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
        if not self._tasks:
            return
        ticks, sending = self._tasks
        # The sender, told to stop, lands the requests under way before it ends: cancel it once
        # and let it finish. The tick loop is cancelled until it ends (bot/task_control.py).
        sending.cancel()
        await cancel_and_wait([ticks])
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        self._tasks = []
