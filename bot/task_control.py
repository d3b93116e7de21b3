"""Stopping background tasks reliably (pure asyncio, no Telegram, no storage)."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(tasks: list[asyncio.Task[Any]], retry_every: float = 1.0) -> None:
    """Cancel the tasks and wait until every one has ended, cancelling again while any runs on.

    On Python 3.11 `asyncio.wait_for` can swallow a cancellation that arrives just as its inner
    call finishes (fixed in 3.12); a loop that then goes on sleeping would keep a shutdown
    waiting for ever. A repeated cancel reaches it at its next await."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=retry_every)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio never logs "exception was never retrieved"
