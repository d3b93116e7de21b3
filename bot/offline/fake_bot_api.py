"""A fake Telegram Bot API, for the terminal chat, `ask`, tests and benchmarks.

`FakeTelegram` answers Bot API methods with realistic JSON and records every call;
`FakeBotRequest` plugs it into python-telegram-bot at the `BaseRequest` boundary, so the real
`Application`, `Bot` and handlers run unchanged while nothing ever reaches the network.
`bot.offline.fake_bot_server` serves the same fake over HTTP on 127.0.0.1 for the real polling
loop.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT_ID = 7000000001
BOT_USERNAME = "selvhjelp_test_bot"


class FakeApiError(Exception):
    """Raised by a send hook to make the fake answer like Telegram does on failure."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


@dataclass
class Call:
    method: str
    params: dict[str, Any]


@dataclass
class Sent:
    """A message as the user would see it."""

    chat_id: int
    message_id: int
    text: str
    buttons: list[list[dict[str, Any]]] = field(default_factory=list)
    method: str = "sendMessage"
    document: Any = None

    @property
    def button_texts(self) -> list[str]:
        return [b["text"] for row in self.buttons for b in row]

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for row in self.buttons for b in row if "callback_data" in b]

    @property
    def urls(self) -> list[str]:
        return [b["url"] for row in self.buttons for b in row if "url" in b]


_MESSAGE_METHODS = {"sendMessage", "sendDocument", "sendPhoto", "editMessageText"}
_TRUE_METHODS = {
    "answerCallbackQuery",
    "setMyCommands",
    "deleteMyCommands",
    "setWebhook",
    "deleteWebhook",
    "close",
    "logOut",
    "sendChatAction",
    "deleteMessage",
    "editMessageReplyMarkup",
    "setChatMenuButton",
}


class FakeTelegram:
    """The state behind the fake API: the bot's identity, message ids, and what was sent."""

    def __init__(self, now: Callable[[], float] | None = None) -> None:
        self.calls: list[Call] = []
        self.sent: list[Sent] = []
        self._ids = itertools.count(1)
        self._now = now or (lambda: 1_700_000_000.0)
        self.send_hook: Callable[[Call], None] | None = None  # may raise FakeApiError
        self.on_message: Callable[[Sent], None] | None = None

    def bot_user(self) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Selvhjelp",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def handle(self, method: str, params: dict[str, Any]) -> Any:
        """The `result` of a Bot API call (raises FakeApiError for an error answer)."""
        call = Call(method, params)
        self.calls.append(call)
        if method == "getMe":
            return self.bot_user()
        if method in _MESSAGE_METHODS:
            if self.send_hook is not None:
                self.send_hook(call)
            return self._message(method, params)
        if method in _TRUE_METHODS:
            return True
        if method == "getMyCommands":
            return []
        if method == "getUpdates":
            return []
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        raise FakeApiError(404, f"Not Found: method {method} is not faked")

    def _message(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params.get("chat_id", 0))
        markup = params.get("reply_markup") or {}
        if isinstance(markup, str):
            markup = json.loads(markup)
        buttons = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
        message_id = int(params.get("message_id") or next(self._ids))
        text = str(params.get("text") or params.get("caption") or "")
        sent = Sent(chat_id, message_id, text, buttons, method, params.get("document"))
        self.sent.append(sent)
        if self.on_message is not None:
            self.on_message(sent)
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(self._now()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": self.bot_user(),
        }
        if text:
            message[
                "caption" if method != "sendMessage" and method != "editMessageText" else "text"
            ] = text
        if buttons:
            message["reply_markup"] = {"inline_keyboard": buttons}
        if method == "sendDocument":
            message["document"] = {
                "file_id": f"doc{message_id}",
                "file_unique_id": f"u{message_id}",
            }
        return message

    def messages_to(self, chat_id: int) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id]

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]


def error_payload(exc: FakeApiError) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": exc.status, "description": exc.description}
    if exc.retry_after is not None:
        body["parameters"] = {"retry_after": exc.retry_after}
    return body


class FakeBotRequest(BaseRequest):
    """python-telegram-bot's network layer, answered in-process by a FakeTelegram."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,  # noqa: ARG002 - HTTP verb; the Bot API method is in the URL
        request_data: RequestData | None = None,
        read_timeout: Any = None,  # noqa: ARG002
        write_timeout: Any = None,  # noqa: ARG002
        connect_timeout: Any = None,  # noqa: ARG002
        pool_timeout: Any = None,  # noqa: ARG002
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        try:
            result = self.fake.handle(api_method, params)
        except FakeApiError as exc:
            return exc.status, json.dumps(error_payload(exc)).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()
