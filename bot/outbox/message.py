"""The one outbox message type: what a feature queues and what the sender reads back.

Features build an `OutboxMessage` and queue it with `enqueue(storage, campaign, rows)`; the
sender reads each row back with `OutboxMessage.from_payload`. The row's stored JSON is exactly
what the hand-built payload dicts of earlier versions wrote, key for key and in the same order,
so rows already queued in a deployed database still send, and new rows read as before:

    {"text": str}                                       an admin's "your link was used"
    {"text": str, "buttons": [[button, ...], ...]}      invitations, meetings, reminders
    {"text": str, "buttons": [], "parse_mode": null}    weekly digests

with a button `{"text": str, "callback_data": str}` or `{"text": str, "url": str}`.
`stored_keys` records which of the optional keys a row spells out even when empty; the JSON is
what decides, never the type's defaults. No Telegram import here: the sender turns a message
into a request (bot/outbox/sender.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

TEXT, BUTTONS, PARSE_MODE = "text", "buttons", "parse_mode"
_OPTIONAL = (BUTTONS, PARSE_MODE)


class PayloadError(ValueError):
    """An outbox payload that does not follow the convention; the row can never be sent."""


@dataclass(frozen=True)
class OutboxButton:
    """An inline button: a callback (`callback_data`) or a link (`url`)."""

    text: str
    callback_data: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.callback_data is None) == (self.url is None):
            raise PayloadError("a button needs callback_data or url")

    def to_dict(self) -> dict[str, str]:
        if self.callback_data is not None:
            return {"text": self.text, "callback_data": self.callback_data}
        assert self.url is not None
        return {"text": self.text, "url": self.url}

    @classmethod
    def from_dict(cls, raw: Any) -> OutboxButton:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("text"), str):
            raise PayloadError("a button needs text")
        if isinstance(raw.get("callback_data"), str):  # as the sender always read it: first
            return cls(raw["text"], callback_data=raw["callback_data"])
        if isinstance(raw.get("url"), str):
            return cls(raw["text"], url=raw["url"])
        raise PayloadError("a button needs callback_data or url")


Keyboard = tuple[tuple[OutboxButton, ...], ...]


def keyboard(rows: Iterable[Iterable[OutboxButton]]) -> Keyboard:
    return tuple(tuple(row) for row in rows)


@dataclass(frozen=True)
class OutboxMessage:
    """One message to one person, as it waits in the outbox (no document: the outbox sends
    text with inline buttons only)."""

    text: str
    buttons: Keyboard = ()
    parse_mode: str | None = None  # None: plain text, as every message today
    # The optional keys the stored JSON spells out even when empty (see the module docstring).
    stored_keys: tuple[str, ...] = (BUTTONS,)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text:
            raise PayloadError("payload has no text")
        if self.parse_mode is not None and not isinstance(self.parse_mode, str):
            raise PayloadError("parse_mode must be a string or null")
        if any(key not in _OPTIONAL for key in self.stored_keys):
            raise ValueError(f"stored_keys: only {', '.join(_OPTIONAL)}")

    @classmethod
    def notice(cls, text: str) -> OutboxMessage:
        """Text alone: `{"text": ...}`."""
        return cls(text, stored_keys=())

    @classmethod
    def with_buttons(cls, text: str, rows: Iterable[Iterable[OutboxButton]]) -> OutboxMessage:
        """Text and inline buttons (the key is written even with none): `{"text", "buttons"}`."""
        return cls(text, keyboard(rows))

    @classmethod
    def formatted(cls, text: str, parse_mode: str | None = None) -> OutboxMessage:
        """Text with its parse mode spelled out: `{"text", "buttons": [], "parse_mode"}`."""
        return cls(text, (), parse_mode, stored_keys=(BUTTONS, PARSE_MODE))

    def to_payload(self) -> dict[str, Any]:
        """The row's JSON object, exactly as stored."""
        payload: dict[str, Any] = {TEXT: self.text}
        if self.buttons or BUTTONS in self.stored_keys:
            payload[BUTTONS] = [[b.to_dict() for b in row] for row in self.buttons]
        if self.parse_mode is not None or PARSE_MODE in self.stored_keys:
            payload[PARSE_MODE] = self.parse_mode
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> OutboxMessage:
        """The message a stored row describes; PayloadError if it cannot be sent. Keys other
        than these are ignored, as the sender always did."""
        if not isinstance(payload, Mapping):
            raise PayloadError("payload is not an object")
        text = payload.get(TEXT)
        if not isinstance(text, str) or not text:
            raise PayloadError("payload has no text")
        raw_rows = payload.get(BUTTONS)
        if raw_rows is not None and not isinstance(raw_rows, list):
            raise PayloadError("buttons must be a list of rows")
        rows = []
        for raw_row in raw_rows or []:
            if not isinstance(raw_row, list):
                raise PayloadError("buttons must be a list of rows")
            rows.append(tuple(OutboxButton.from_dict(b) for b in raw_row))
        stored = tuple(key for key in _OPTIONAL if key in payload)
        return cls(text, tuple(rows), payload.get(PARSE_MODE), stored_keys=stored)


class _Queue(Protocol):
    async def enqueue(
        self, campaign: str, rows: Iterable[tuple[str, bytes, dict[str, Any]]]
    ) -> int: ...


OutboxRowDraft = tuple[str, bytes, OutboxMessage]  # (recipient key, encrypted chat, message)


async def enqueue(storage: _Queue, campaign: str, rows: Iterable[OutboxRowDraft]) -> int:
    """Queue `rows` as the outbox campaign `campaign` (Storage.enqueue: a recipient already in
    the campaign is skipped); returns the rows added."""
    return await storage.enqueue(
        campaign, [(key, chat, message.to_payload()) for key, chat, message in rows]
    )
