"""The bot's Bot API client: python-telegram-bot's ExtBot, plus lean calls for replies.

Telegram answers every sendMessage and editMessageText with the whole message, and
python-telegram-bot turns that into a frozen `Message` (keyboard included) that our replies
never read. bench/e2e.py measured that conversion at ~75 us of CPU per answer with a keyboard,
the largest single cost of an answer after the HTTP round trip itself. `send_text` and
`edit_text` make the same calls through ExtBot's own `_post` (defaults, rate limiter and error
mapping unchanged: a refusal still raises BadRequest, Forbidden, RetryAfter...) and keep only
the message id. `_post` is protected, not public: this subclass is where it may be used, and
pyproject pins python-telegram-bot below 23.

A reply (and a button press's answer) that meets a passing fault is tried again rather than
lost (bench/faults.py): after Telegram's retry-after when it asks to slow down, and after a
second or two when the call failed without reaching Telegram's answer (no connection, a 5xx,
a dropped connection). A timeout is not tried again: the message may have arrived, and a
reply said twice is worse than one the person can ask for again. The outbox's sends go
through `send_message`, which its Sender paces and retries itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import ExtBot

T = TypeVar("T")
REPLY_TRIES = 3  # tries in all for one reply
REPLY_BACKOFF = (1.0, 2.0)  # seconds before the 2nd and 3rd try after a network error
REPLY_RETRY_AFTER_CAP = 30.0  # a longer retry-after is not waited for: the reply fails


async def patiently(call: Callable[[], Awaitable[T]]) -> T:
    """`call()`, tried again after a retry-after or a network error that is not a timeout."""
    for attempt in range(REPLY_TRIES):
        last = attempt == REPLY_TRIES - 1
        try:
            return await call()
        except RetryAfter as exc:
            # Always a timedelta, whatever PTB_TIMEDELTA says (the public one warns in PTB 22).
            wait = exc._retry_after.total_seconds()
            if last or wait > REPLY_RETRY_AFTER_CAP:
                raise
        except (BadRequest, TimedOut):
            raise
        except NetworkError:
            if last:
                raise
            wait = REPLY_BACKOFF[attempt]
        await asyncio.sleep(wait)
    raise AssertionError("unreachable")


class ReplyBot(ExtBot[None]):
    """ExtBot whose reply calls skip building objects from Telegram's answer."""

    __slots__ = ()

    async def send_text(
        self, chat_id: int, text: str, keyboard: InlineKeyboardMarkup | None = None
    ) -> int:
        """sendMessage; returns the new message's id."""
        data = _message(text, keyboard, chat_id=chat_id)
        result = await patiently(lambda: self._post("sendMessage", data))
        return int(result["message_id"])

    async def edit_text(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        keyboard: InlineKeyboardMarkup | None = None,
    ) -> None:
        """editMessageText of a message the bot sent."""
        data = _message(text, keyboard, chat_id=chat_id, message_id=message_id)
        await patiently(lambda: self._post("editMessageText", data))

    async def answer_callback_query(self, *args: Any, **kwargs: Any) -> bool:
        """answerCallbackQuery, tried again like a reply (a handler stops where it fails)."""
        parent = super().answer_callback_query
        return await patiently(lambda: parent(*args, **kwargs))


def _message(text: str, keyboard: InlineKeyboardMarkup | None, **target: int) -> dict[str, Any]:
    data: dict[str, Any] = {**target, "text": text}
    if keyboard is not None:
        data["reply_markup"] = keyboard
    return data
