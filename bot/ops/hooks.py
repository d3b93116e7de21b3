"""Where the running bot feeds bot/ops/metrics.py: the few places python-telegram-bot lets us in.

- `CountingUpdateProcessor`: python-telegram-bot's default update processor (one update at a
  time, `SimpleUpdateProcessor(1)`) that also counts each update by kind and times its
  handling. It sees every update that comes through the update queue (polling and webhook);
  tests that call `Application.process_update` directly bypass it, as they bypass the queue.
- `send_error_kind`: the sending queue's failures as the metric's kinds.
- `observe_replies`: every reply decision (Services.reply_listener) counted by outcome.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

from telegram.error import Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import SimpleUpdateProcessor

from bot.ops.metrics import METRICS, BotMetrics
from bot.services import Services


class CountingUpdateProcessor(SimpleUpdateProcessor):
    """SimpleUpdateProcessor (same concurrency, same order) that counts and times updates."""

    __slots__ = ("_metrics",)

    def __init__(self, max_concurrent_updates: int = 1, metrics: BotMetrics = METRICS) -> None:
        super().__init__(max_concurrent_updates)
        self._metrics = metrics

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        start = time.perf_counter()
        try:
            await coroutine
        finally:
            self._metrics.count_update(update, time.perf_counter() - start)


def send_error_kind(exc: BaseException) -> str:
    """blocked, rate_limited, network, server or other, for one failed send.

    python-telegram-bot raises NetworkError both when no answer came (then it chains the HTTP
    library's error, or is TimedOut) and for a 5xx answer (then nothing, or the JSON parsing
    error, is chained): the chain tells them apart.
    """
    if isinstance(exc, RetryAfter):
        return "rate_limited"
    if isinstance(exc, Forbidden):
        return "blocked"
    if isinstance(exc, TimedOut):
        return "network"
    if isinstance(exc, NetworkError):
        cause = exc.__cause__
        return "server" if cause is None or isinstance(cause, TelegramError) else "network"
    return "other"


def observe_replies(services: Services, metrics: BotMetrics = METRICS) -> None:
    """Count every reply decision, keeping any listener already there (`ask` has one)."""
    previous = services.reply_listener

    def listener(reply: Any) -> None:
        metrics.observe_reply(reply)
        if previous is not None:
            previous(reply)

    services.reply_listener = listener
