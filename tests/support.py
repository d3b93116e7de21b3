"""What tests share: the real Application on the fake Bot API, and a person who talks to it.

Everything runs in-process: `FakeBotRequest` answers the Bot API at python-telegram-bot's
`BaseRequest` boundary, real `Update` objects go through `Application.process_update`, and tests
assert on what the fake recorded, which is exactly what the person would see.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from telegram.ext import Application
from telegram.request import BaseRequest

from bot.config import Config, parse_config
from bot.lifecycle import BotRuntime, runtime_of
from bot.offline.fake_bot_api import Call, FakeBotRequest, FakeTelegram, Sent
from bot.offline.fake_updates import callback_update, message_update
from bot.services import Services

ROOT = Path(__file__).resolve().parent.parent
CONFIG_PATH = ROOT / "config.yaml"
USER_ID = 1001

App = Application


def load_repo_config(data_dir: Path) -> Config:
    """The repository's config.yaml, with the data folder moved into the test's tmp_path."""
    raw = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
    return parse_config(raw, {"SELVHJELP_DATA_DIR": str(data_dir)}, str(CONFIG_PATH))


async def start_app(
    services: Services, fake: FakeTelegram | None = None, *, request: BaseRequest | None = None
) -> App:
    """The bot started as every mode starts it (bot/lifecycle.py), offline: no updater, no
    network, the Bot API answered by `fake` (or by `request`, a FakeBotRequest of a test's own),
    no background tasks (tests run the scheduler and the sender by hand)."""
    if request is None:
        if fake is None:
            raise TypeError("start_app needs the fake Telegram or a request of its own")
        request = FakeBotRequest(fake)
    runtime = BotRuntime(services.config, mode="offline", services=services, request=request)
    await runtime.start()
    assert runtime.app is not None
    return runtime.app


async def stop_app(app: App) -> None:
    """Stop what start_app started, in reverse (storage last); an Application started by hand
    is shut down and its storage closed."""
    runtime = runtime_of(app)
    if runtime is not None:
        await runtime.stop()
        return
    await app.shutdown()
    services: Services = app.bot_data.services
    await services.storage.close()


@dataclass
class Turn:
    """What one update made the bot do: messages the person sees and every API call."""

    sent: list[Sent]
    calls: list[Call]

    @property
    def texts(self) -> list[str]:
        return [s.text for s in self.sent]

    @property
    def text(self) -> str:
        """Everything the person saw, joined (for `in` checks)."""
        return "\n\n".join(self.texts)

    @property
    def first(self) -> Sent:
        assert self.sent, f"the bot sent nothing; calls: {[c.method for c in self.calls]}"
        return self.sent[0]

    @property
    def last(self) -> Sent:
        assert self.sent, f"the bot sent nothing; calls: {[c.method for c in self.calls]}"
        return self.sent[-1]

    @property
    def callback_answers(self) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == "answerCallbackQuery"]

    @property
    def alerts(self) -> list[str]:
        """Texts of callback-query answers (the pop-up a person sees on a button press)."""
        return [str(p["text"]) for p in self.callback_answers if p.get("text")]

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]


@dataclass
class Person:
    """One Telegram user talking to the bot; `say` and `press` return what the bot did."""

    app: App
    fake: FakeTelegram
    user_id: int = USER_ID
    language_code: str | None = "nb"
    chat_id: int | None = None
    chat_type: str = "private"
    history: list[Turn] = field(default_factory=list)

    def _since(self, sent_before: int, calls_before: int) -> Turn:
        turn = Turn(self.fake.sent[sent_before:], self.fake.calls[calls_before:])
        self.history.append(turn)
        return turn

    async def say(self, text: str | None, *, edited: bool = False, sticker: bool = False) -> Turn:
        """Send a message (or edit one, or send a sticker) and collect the bot's reaction."""
        sent_before, calls_before = len(self.fake.sent), len(self.fake.calls)
        update = message_update(
            text,
            self.app.bot,
            self.user_id,
            chat_id=self.chat_id,
            chat_type=self.chat_type,
            language_code=self.language_code,
            edited=edited,
            sticker=sticker,
        )
        await self.app.process_update(update)
        return self._since(sent_before, calls_before)

    async def press(self, data: str, on: Sent | None = None, *, forged: bool = False) -> Turn:
        """Press the button with callback `data` on the message `on`, as a person can: the button
        must be on that message. `forged=True` (or no `on`) sends data the person was not shown:
        forged, stale or replayed presses, which the bot must refuse or handle gracefully."""
        if on is not None and not forged:
            shown = [b.get("callback_data") for row in on.buttons for b in row]
            assert data in shown, f"no button {data!r} on that message; it shows {on.button_texts}"
        sent_before, calls_before = len(self.fake.sent), len(self.fake.calls)
        update = callback_update(
            data,
            self.app.bot,
            self.user_id,
            message_id=on.message_id if on else 1,
            chat_id=self.chat_id,
            language_code=self.language_code,
            message_text=on.text if on else "...",
        )
        await self.app.process_update(update)
        return self._since(sent_before, calls_before)

    async def press_label(self, sent: Sent, label_part: str) -> Turn:
        """Press the button on `sent` whose label contains `label_part`."""
        for row in sent.buttons:
            for button in row:
                if label_part in button["text"] and "callback_data" in button:
                    return await self.press(button["callback_data"], on=sent)
        raise AssertionError(f"no button containing {label_part!r} in {sent.button_texts}")


PersonFactory = Callable[..., Person]


class PacingClock:
    """The Sender's pacing clock for tests: it moves only when the Sender sleeps, so delivery
    takes no real time."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)
        self.t += max(seconds, 0.0)
        await asyncio.sleep(0)
