"""The sending queue: durable, rate-limited fan-out of outbox rows to Telegram.

One engine for digests, invitations, announcements, reminders and cancellations. Features only
`storage.enqueue(campaign, rows)`; a `Sender` turns due rows into `sendMessage` calls:

- at most `config.send_rate` messages per second in all (evenly spaced), and at most one per
  `config.per_chat_interval` seconds to one chat (a row for a chat that is cooling down stays
  pending and the others go on);
- several requests in flight at once, so the global rate is reachable over real HTTP;
- each row is marked 'sent' right after its own success, so a crash or restart re-sends at most
  the rows that were in flight, never a row marked sent;
- a row is re-checked right before its request (`Storage.begin_send`): one whose recipient ran
  /forget or withdrew after it was taken is dropped, never sent;
- Telegram's answers decide what happens next: retry-after pauses everyone (flood control is
  global), a blocked bot or a vanished chat marks the resident inactive, other bad requests
  fail the row, and network or server errors are retried with exponential back-off.

Nothing here logs message text, chat ids or user keys: only row ids, counts and error kinds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from typing import Any

import httpx
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from bot.ops.hooks import send_error_kind
from bot.ops.metrics import METRICS
from bot.outbox.message import OutboxMessage, PayloadError
from bot.services import Services
from bot.storage import OutboxRow

log = logging.getLogger(__name__)


def _what(row: OutboxRow) -> str:
    """A row as it may be logged (issue 10): its campaign's kind ('invitation', 'digest', ...),
    never its id, recipient or the rest of the campaign name (which can hold a user key)."""
    return row.campaign.partition(":")[0]


ProgressCallback = Callable[[str, dict[str, int]], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]

MAX_ATTEMPTS = 6  # a transient failure is tried this many times in all, then the row fails
BACKOFF_CAP = 300.0  # seconds; 1, 2, 4, 8, 16 ... never more than this
# config.send_rate is a limit not to cross, so the pace aims a little below it: requests sent
# evenly arrive unevenly (network jitter, pauses on either side bunch them up), and a burst
# over the limit costs everyone a retry-after pause of a second or more.
PACE_HEADROOM = 0.95
FLOOD_SLOWDOWN = 0.9  # the pace after a retry-after answer, as a fraction of the pace before
FLOOD_CEILING = 0.97  # ... and the most it climbs back to, as a fraction of that pace
MIN_PACE_FACTOR = 0.25
RECOVERY_SECONDS = 100.0  # sending time to climb back from a factor of 0 to the full rate
# A bad request about the chat itself means nobody is there to reach: treat it like a block.
GONE_CHAT_ERRORS = ("chat not found", "peer_id_invalid", "user not found")
# Telegram out of reach (bench/faults.py): a send that could not even connect is nobody's
# fault but the network's, so it costs the row no try (an outage of any length never makes a
# message fail) and everyone pauses, longer each time (1, 2, 4 ... s, at most this) until a
# send succeeds; so does a run of server errors or timeouts with no success between them.
OUTAGE_PAUSE_CAP = 30.0
OUTAGE_STREAK = 3


@dataclass
class SendReport:
    """What one pass (or several, added up) did with the rows it took."""

    sent: int = 0
    blocked: int = 0
    failed: int = 0
    retried: int = 0  # left pending for a later try (back-off or retry-after)
    deferred: int = 0  # skipped for now: the chat had a message less than the interval ago
    dropped: int = 0  # taken, but erased before its turn (/forget, withdrawal): never sent

    def __iadd__(self, other: SendReport) -> SendReport:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    @property
    def handled(self) -> int:
        """Rows that reached an outcome or were tried in this pass (deferred ones were not)."""
        return self.sent + self.blocked + self.failed + self.retried + self.dropped


@dataclass(frozen=True)
class Message:
    text: str
    markup: InlineKeyboardMarkup | None
    parse_mode: str | None


def reply_markup(message: OutboxMessage) -> InlineKeyboardMarkup | None:
    """The inline keyboard of a queued message (empty rows are left out), None without one."""
    rows = [
        [
            InlineKeyboardButton(b.text, callback_data=b.callback_data)
            if b.callback_data is not None
            else InlineKeyboardButton(b.text, url=b.url)
            for b in row
        ]
        for row in message.buttons
        if row
    ]
    return InlineKeyboardMarkup(rows) if rows else None


def message_from_payload(payload: dict[str, Any]) -> Message:
    """The message a stored outbox payload describes (bot/outbox/message.py has the
    convention); PayloadError if it cannot be sent."""
    message = OutboxMessage.from_payload(payload)
    return Message(message.text, reply_markup(message), message.parse_mode)


def retry_after_seconds(exc: RetryAfter) -> float:
    """The wait Telegram asked for, in seconds, whichever type this PTB version returns."""
    with warnings.catch_warnings():
        # PTB 22 warns that the int will become a timedelta; we accept either.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value)


def backoff_seconds(attempts: int) -> float:
    """Exponential back-off after the `attempts`-th failed try (0-based): 1, 2, 4, ... s."""
    return min(BACKOFF_CAP, 2.0 ** min(attempts, 30))


def unreachable(exc: BaseException) -> bool:
    """Whether a call failed before reaching Telegram (no connection made): never delivered."""
    return isinstance(exc, NetworkError) and isinstance(
        exc.__cause__, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
    )


def default_in_flight(rate: float) -> int:
    """Enough concurrent requests to reach `rate` at ~0.5 s per request, within reason."""
    return max(4, min(64, math.ceil(rate / 2)))


@dataclass
class _Flight:
    """The requests one run has under way."""

    report: SendReport
    slots: asyncio.Semaphore  # bounds requests in flight
    tasks: set[asyncio.Task[None]]
    ids: set[int]  # outbox rows in flight, so a new fetch does not start them twice
    landed_meanwhile: set[int] | None = None  # rows that landed while a fetch was running


class Sender:
    """Sends due outbox rows, honouring Telegram's limits. One Sender per process.

    `sleep` and `timer` (a monotonic-style clock for pacing) are injectable together, so tests
    can run on a fake clock; `services.now()` decides which rows are due (`not_before`).
    `on_progress(campaign, counts)` is called at most every `progress_every` seconds per
    campaign while it sends, and always once when a campaign has nothing pending any more.
    """

    def __init__(
        self,
        services: Services,
        *,
        on_progress: ProgressCallback | None = None,
        progress_every: float = 5.0,
        sleep: Sleep = asyncio.sleep,
        timer: Callable[[], float] = time.monotonic,
        max_in_flight: int | None = None,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._services = services
        self._storage = services.storage
        config = services.config
        self._rate = config.send_rate * PACE_HEADROOM
        # After a retry-after the pace (a fraction of the configured rate) drops, then climbs
        # back to just under the pace that was refused: a limit we just hit is not hit again a
        # few seconds later, since each hit costs everyone a pause.
        self.pace_factor = 1.0
        self._pace_ceiling = 1.0
        self._recovery_step = 1.0 / (RECOVERY_SECONDS * self._rate) if self._rate > 0 else 1.0
        self._per_chat = config.per_chat_interval
        self._in_flight_limit = max_in_flight or default_in_flight(config.send_rate)
        self._max_attempts = max_attempts
        self.on_progress = on_progress
        self._progress_every = progress_every
        self._sleep = sleep
        self._timer = timer
        self._lock = asyncio.Lock()  # one pass at a time, or two passes could take one row
        self._next_slot = 0.0  # timer value at which the next message may start
        self._paused_until = 0.0  # retry-after: nobody sends before this timer value
        self._outage_steps = 0  # outage pauses since the last success (each one longer)
        self._failure_streak = 0  # transient failures since the last success
        self._last_to_chat: dict[int, float] = {}  # chat id -> timer value of last send start
        self._dirty: set[str] = set()  # campaigns with changes not yet reported
        self._reported_at: dict[str, float] = {}
        self._last_counts: dict[str, dict[str, int]] = {}
        self._gone: set[str] = set()  # recipients found blocked since the latest fetch
        self._unrecorded: set[int] = set()  # rows delivered whose 'sent' is not yet stored
        self._wake = asyncio.Event()
        self._stopping = False
        self.in_flight = 0  # requests under way right now (for tests and benchmarks)

    # --- public ------------------------------------------------------------------------------

    async def send_due(self, bot: Bot, *, max_rows: int = 500) -> SendReport:
        """Send up to `max_rows` due rows and wait for every request started to finish."""
        async with self._lock:
            flight = self._flight()
            try:
                await self._start_due(bot, flight, max_rows)
            finally:
                await self._land(flight)
            self._forget_cooled_chats()
            await self._maybe_report_progress(final_check=True)
            return flight.report

    async def run_until_idle(
        self,
        bot: Bot,
        *,
        timeout: float,  # noqa: ASYNC109 - measured on the injected pacing clock, not the loop's
        max_rows: int = 500,
    ) -> SendReport:
        """Send until nothing is pending (or `timeout` seconds pass on the pacing clock)."""
        report, _ = await self._run(bot, deadline=self._timer() + timeout, max_rows=max_rows)
        return report

    async def run_forever(self, bot: Bot, *, idle_poll: float = 1.0, max_rows: int = 500) -> None:
        """The background loop for the running bot: send whatever is due until `stop()`.

        Enqueueing code may call `wake()` so new rows go out at once instead of on the next poll.
        A database error does not end the loop: it is logged and the loop tries again. While
        it is idle, `send_due` may be called from elsewhere (it waits while this one sends).
        """
        while not self._stopping:
            try:
                _, wait = await self._run(bot, deadline=None, max_rows=max_rows)
            except Exception:
                log.exception("sending queue failed; trying again shortly")
                wait = idle_poll
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=min(wait, idle_poll))

    async def _run(
        self, bot: Bot, *, deadline: float | None, max_rows: int
    ) -> tuple[SendReport, float]:
        """Keep requests flowing: take new due rows as soon as the previous ones are started,
        without waiting for the whole batch to land (no gap in the pace between batches).

        With a deadline, waits for rows that are not due yet until the deadline; without one,
        returns as soon as nothing can be sent. Returns the report and how many seconds until
        something may be sendable (infinity when nothing is pending).
        """
        wait = 0.0
        async with self._lock:
            flight = self._flight()
            try:
                while not self._stopping:
                    if deadline is not None and self._timer() >= deadline:
                        break
                    self._wake.clear()  # a wake() from here on ends run_forever's idle wait
                    if await self._start_due(bot, flight, max_rows):
                        continue
                    if flight.tasks:  # everything due is under way: wait for one to land
                        await asyncio.wait(set(flight.tasks), return_when=asyncio.FIRST_COMPLETED)
                        continue
                    self._forget_cooled_chats()
                    await self._maybe_report_progress(final_check=True)
                    next_due = await self._storage.next_outbox_time()
                    if next_due is None:
                        wait = math.inf
                        break
                    wait = self._idle_wait(next_due)
                    if deadline is None:
                        break
                    await self._sleep(max(0.0, min(wait, deadline - self._timer())))
            finally:
                await self._land(flight)
            await self._maybe_report_progress(final_check=True)
            return flight.report, wait

    def wake(self) -> None:
        """New rows were enqueued: let `run_forever` look now."""
        self._wake.set()

    def stop(self) -> None:
        """Stop taking rows; requests under way finish and are recorded."""
        self._stopping = True
        self._wake.set()

    # --- starting and landing requests --------------------------------------------------------

    def _flight(self) -> _Flight:
        return _Flight(SendReport(), asyncio.Semaphore(self._in_flight_limit), set(), set())

    async def _start_due(self, bot: Bot, flight: _Flight, max_rows: int) -> int:
        """Start (or settle at once) due rows not already under way; how many it took."""
        # A row in flight now, or landing while the query runs, may come back still pending
        # (the query can read before its outcome is written): skip those, decided once here,
        # since a row can land while this loop waits for its pace.
        flight.landed_meanwhile = set()
        # Likewise a recipient found blocked from now on may have rows in this fetch that read
        # as pending; rows fetched later come after mark_inactive and need no such care.
        self._gone = set()
        limit = max_rows + len(flight.ids)
        rows = await self._storage.due_outbox(self._services.now(), limit)
        skip = flight.ids | flight.landed_meanwhile
        flight.landed_meanwhile = None
        taken = 0
        for row in rows:
            if self._stopping:
                break
            if row.id in skip:
                continue
            if row.id in self._unrecorded:  # delivered; try again to record it, never resend
                await self._storage.outbox_done(row.id, "sent")
                self._unrecorded.discard(row.id)
                continue
            if row.recipient in self._gone:
                await self._finish(row, "blocked", flight.report)
                taken += 1
                continue
            chat_id = self._services.cipher.decrypt(row.chat_enc, row.recipient)
            if chat_id is None:
                log.warning("outbox %s: chat id does not decrypt; failed", _what(row))
                await self._finish(row, "failed", flight.report)
                taken += 1
                continue
            if self._cooling(chat_id) > 0:
                flight.report.deferred += 1
                continue
            await flight.slots.acquire()
            try:
                await self._pace()
            except BaseException:
                flight.slots.release()
                raise
            if self._cooling(chat_id) > 0:  # a row for this chat started meanwhile
                flight.slots.release()
                flight.report.deferred += 1
                continue
            # Re-checked at its turn, under the storage lock: a row taken from the queue before
            # its recipient ran /forget (or withdrew) is not sent, and /forget waits for a
            # request already under way (until `end_send`), so nothing reaches anyone after
            # /forget is done.
            refused = await self._storage.begin_send(row.id, row.recipient)
            if refused is not None:
                flight.slots.release()
                if refused == "blocked":
                    flight.report.blocked += 1
                else:
                    flight.report.dropped += 1
                self._dirty.add(row.campaign)
                taken += 1
                continue
            self._last_to_chat[chat_id] = self._timer()
            self._launch(bot, flight, row, chat_id)
            taken += 1
            await self._maybe_report_progress()
        return taken

    def _launch(self, bot: Bot, flight: _Flight, row: OutboxRow, chat_id: int) -> None:
        task = asyncio.create_task(self._deliver(bot, row, chat_id, flight.report))
        flight.tasks.add(task)
        flight.ids.add(row.id)

        def landed(_task: asyncio.Task[None]) -> None:
            self._storage.end_send(row.recipient)  # also when cancelled before it ran
            flight.tasks.discard(task)
            flight.ids.discard(row.id)
            if flight.landed_meanwhile is not None:
                flight.landed_meanwhile.add(row.id)
            flight.slots.release()

        task.add_done_callback(landed)

    @staticmethod
    async def _land(flight: _Flight) -> None:
        """Let requests under way finish and be recorded (even on cancel), so a restart
        re-sends as few rows as possible."""
        if flight.tasks:
            await asyncio.gather(*flight.tasks, return_exceptions=True)

    # --- pacing ------------------------------------------------------------------------------

    async def _pace(self) -> None:
        """Wait for this message's slot: evenly spaced, and never during a retry-after pause."""
        while True:
            now = self._timer()
            if self._paused_until > now:
                await self._sleep(self._paused_until - now)
                continue
            # Slots sit on an even grid, so a sleep that overshoots is made up by the next one
            # (the average holds); a slot more than two steps in the past is not saved up, so
            # after a quiet spell or a slow request we do not burst.
            spacing = self._spacing()
            slot = self._next_slot
            if slot < now - 2 * spacing:
                slot = now
            self._next_slot = slot + spacing
            if slot > now:
                await self._sleep(slot - now)
            if self._paused_until <= self._timer():
                return

    def _spacing(self) -> float:
        rate = self._rate * self.pace_factor
        return 1.0 / rate if rate > 0 else 0.0

    def _flood(self, wait: float) -> None:
        """Telegram said retry after `wait` s: pause everyone, then go on a little slower."""
        now = self._timer()
        if self._paused_until <= now:  # one slowdown per pause, however many requests hit it
            self._pace_ceiling = max(MIN_PACE_FACTOR, self.pace_factor * FLOOD_CEILING)
            self.pace_factor = max(MIN_PACE_FACTOR, self.pace_factor * FLOOD_SLOWDOWN)
        self._paused_until = max(self._paused_until, now + wait)

    def _outage(self, exc: Exception) -> None:
        """Telegram seems out of reach: pause everyone, longer each time until a success."""
        now = self._timer()
        if self._paused_until > now:  # one step per pause, however many requests hit it
            return
        self._outage_steps += 1
        wait = min(OUTAGE_PAUSE_CAP, backoff_seconds(self._outage_steps - 1))
        self._paused_until = now + wait
        log.warning(
            "Telegram out of reach (%s): pausing all sends for %.0f s", type(exc).__name__, wait
        )

    def _cooling(self, chat_id: int) -> float:
        """Seconds until this chat may get another message (0 when it may now)."""
        last = self._last_to_chat.get(chat_id)
        if last is None:
            return 0.0
        return max(0.0, last + self._per_chat - self._timer())

    def _forget_cooled_chats(self) -> None:
        horizon = self._timer() - self._per_chat
        self._last_to_chat = {c: t for c, t in self._last_to_chat.items() if t > horizon}

    def _idle_wait(self, next_due: float) -> float:
        """How long to wait when nothing could be sent: until a row is due or a chat cools."""
        waits = [next_due - self._services.now()]
        waits += [self._cooling(chat) for chat in self._last_to_chat]
        waits.append(self._paused_until - self._timer())
        positive = [w for w in waits if w > 0]
        # Something due but nothing sendable and nothing to wait for: a short tick, not a spin.
        return min(positive) if positive else 0.01

    # --- one message -------------------------------------------------------------------------

    async def _deliver(self, bot: Bot, row: OutboxRow, chat_id: int, report: SendReport) -> None:
        self.in_flight += 1
        try:
            await self._attempt(bot, row, chat_id, report)
        except Exception:
            # Storage trouble while recording an outcome: the row stays pending and is tried
            # again on a later pass (at worst a duplicate, never a loss).
            log.exception("outbox %s: could not record the outcome", _what(row))
        finally:
            self.in_flight -= 1

    async def _attempt(self, bot: Bot, row: OutboxRow, chat_id: int, report: SendReport) -> None:
        try:
            message = message_from_payload(row.payload)
        except PayloadError as exc:
            log.error("outbox %s: bad payload (%s); failed", _what(row), type(exc).__name__)
            await self._finish(row, "failed", report)
            return
        try:
            await bot.send_message(
                chat_id, message.text, reply_markup=message.markup, parse_mode=message.parse_mode
            )
        except RetryAfter as exc:
            METRICS.send_error("rate_limited")
            wait = retry_after_seconds(exc)
            # Flood control is per bot: everyone waits, and this row goes out after the pause.
            self._flood(wait)
            log.warning("flood control: pausing all sends for %.1f s", wait)
            report.retried += 1
            self._dirty.add(row.campaign)
        except Forbidden:
            METRICS.send_error("blocked")
            await self._blocked(row, report)
        except BadRequest as exc:
            if any(marker in exc.message.lower() for marker in GONE_CHAT_ERRORS):
                METRICS.send_error("blocked")
                await self._blocked(row, report)
            else:
                METRICS.send_error("other")
                log.warning("outbox %s: rejected by Telegram (%s); failed", _what(row), exc)
                await self._finish(row, "failed", report)
        except ChatMigrated:
            # Recipients are private chats, which never migrate; nothing sensible to resend.
            METRICS.send_error("other")
            await self._finish(row, "failed", report)
        except Exception as exc:
            # TimedOut, NetworkError (including 5xx), anything unexpected: try again later.
            METRICS.send_error(send_error_kind(exc))
            if unreachable(exc):  # never left this machine: pending as it was, no try spent
                self._outage(exc)
                report.retried += 1
                self._dirty.add(row.campaign)
                return
            self._failure_streak += 1
            if self._failure_streak >= OUTAGE_STREAK:
                self._outage(exc)
            await self._transient(row, exc, report)
        else:
            self._failure_streak = 0
            self._outage_steps = 0
            self.pace_factor = min(self._pace_ceiling, self.pace_factor + self._recovery_step)
            # Remembered until the database has it: if writing 'sent' fails, the row must not
            # go out again from this process while it still reads as pending.
            self._unrecorded.add(row.id)
            await self._finish(row, "sent", report)
            self._unrecorded.discard(row.id)

    async def _transient(self, row: OutboxRow, exc: Exception, report: SendReport) -> None:
        if row.attempts + 1 >= self._max_attempts:
            log.warning(
                "outbox %s: %s after %d tries; failed",
                _what(row),
                type(exc).__name__,
                row.attempts + 1,
            )
            await self._finish(row, "failed", report)
            return
        delay = backoff_seconds(row.attempts)
        log.info("outbox %s: %s; retry in %.0f s", _what(row), type(exc).__name__, delay)
        await self._storage.outbox_retry(row.id, self._services.now() + delay)
        report.retried += 1
        self._dirty.add(row.campaign)

    async def _blocked(self, row: OutboxRow, report: SendReport) -> None:
        """The person blocked the bot or is gone: never message them again."""
        self._gone.add(row.recipient)
        await self._finish(row, "blocked", report)
        # Also turns the recipient's other pending rows into 'blocked'.
        await self._storage.mark_inactive(row.recipient)

    async def _finish(self, row: OutboxRow, status: str, report: SendReport) -> None:
        await self._storage.outbox_done(row.id, status)
        setattr(report, status, getattr(report, status) + 1)
        self._dirty.add(row.campaign)

    # --- progress ----------------------------------------------------------------------------

    async def _maybe_report_progress(self, *, final_check: bool = False) -> None:
        """Tell `on_progress` about campaigns that changed: throttled, but never miss the end.

        Mid-pass this runs only when a whole interval has passed since a campaign's last
        report; at the end of a pass it also reports every campaign with nothing pending.
        A campaign leaves the changed set *before* its counts are read, so a send that lands
        during the read marks it changed again and its outcome is reported later.
        """
        if self.on_progress is None or not self._dirty:
            self._dirty.clear()
            return
        now = self._timer()
        for campaign in sorted(self._dirty):
            due = now - self._reported_at.get(campaign, -math.inf) >= self._progress_every
            if not due and not final_check:
                continue
            self._dirty.discard(campaign)
            counts = await self._storage.campaign_progress(campaign)
            if not due and counts["pending"] > 0:
                self._dirty.add(campaign)
                continue
            if self._last_counts.get(campaign) == counts:  # nothing new to say
                continue
            self._last_counts[campaign] = counts
            self._reported_at[campaign] = now
            try:
                await self.on_progress(campaign, counts)
            except Exception:
                log.exception("progress callback failed")
