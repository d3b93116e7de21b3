"""The bot's Bot API client: python-telegram-bot's ExtBot, plus lean calls for replies.

Telegram answers every sendMessage and editMessageText with the whole message, and
python-telegram-bot turns that into a frozen `Message` (keyboard included) that our replies
never read. bench/e2e.py measured that conversion at ~75 us of CPU per answer with a keyboard,
the largest single cost of an answer after the HTTP round trip itself. `send_text` and
`edit_text` make the same calls through ExtBot's own `_post` (defaults, rate limiter and error
mapping unchanged: a refusal still raises BadRequest, Forbidden, RetryAfter...) and keep only
the message id. `_post` is protected, not public: this subclass is where it may be used, and
pyproject pins python-telegram-bot below 23.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup
from telegram.ext import ExtBot


class ReplyBot(ExtBot[None]):
    """ExtBot whose reply calls skip building objects from Telegram's answer."""

    __slots__ = ()

    async def send_text(
        self, chat_id: int, text: str, keyboard: InlineKeyboardMarkup | None = None
    ) -> int:
        """sendMessage; returns the new message's id."""
        result = await self._post("sendMessage", _message(text, keyboard, chat_id=chat_id))
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
        await self._post("editMessageText", data)


def _message(text: str, keyboard: InlineKeyboardMarkup | None, **target: int) -> dict[str, Any]:
    data: dict[str, Any] = {**target, "text": text}
    if keyboard is not None:
        data["reply_markup"] = keyboard
    return data
