"""Faults survived (issue 13), the fast version of bench/faults.py: the real polling loop
against the fake Bot API while it answers 500s and 429s or goes away for a moment, and a
clean SIGTERM to `python -m bot run` in the middle of a broadcast. No timing asserts: the
waits are generous bounds, the figures are the benchmark's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from telegram.error import RetryAfter, TimedOut

import bot.botapi.reply_bot
import bot.botapi.transport
import bot.composition
from bench.faults import (
    TOKEN,
    BotProcess,
    Chats,
    config_for,
    offers,
    read_database,
    seed_broadcast,
    wait_for,
    write_config,
)
from bench.register import Choice, script
from bot.botapi.transport import PollingRequest
from bot.composition import create_bot
from bot.config import Config
from bot.content import Content
from bot.lifecycle import running_bot
from bot.offline.fake_bot_api import Sent
from bot.offline.fake_bot_server import FakeTelegramServer, Fault
from bot.offline.fake_updates import callback_update_json, message_update_json
from bot.services import Services
from tests.support import App

USER_ID = 5105
SENDS = frozenset({"sendMessage", "editMessageText", "answerCallbackQuery"})
WAIT = 20.0  # seconds: a bound for "eventually", never a measured figure


@pytest.fixture
def bot_token() -> str:
    return TOKEN  # the benchmark's, so its helpers find the bot


@pytest.fixture
async def polling_app(http_config: Config, http_services: Services) -> AsyncIterator[App]:
    """The bot polling the fake, started as `python -m bot run` starts it (bot/lifecycle.py)."""
    async with running_bot(
        http_config, mode="polling", services=http_services, background="off", poll_timeout=1
    ) as runtime:
        assert runtime.app is not None
        yield runtime.app


class Chat:
    """What the bot sent to USER_ID, as it arrives."""

    def __init__(self, server: FakeTelegramServer) -> None:
        self.server = server
        self.got: list[Sent] = []
        self.arrived = asyncio.Event()
        server.fake.on_message = self._on_message

    def _on_message(self, sent: Sent) -> None:
        if sent.chat_id == USER_ID:
            self.got.append(sent)
            self.arrived.set()

    async def reply_to(self, update: dict[str, object], want: Callable[[Sent], bool]) -> Sent:
        """Push `update` (numbered by the server) and wait for a reply that `want`s."""
        start = len(self.got)
        self.server.push_update({k: v for k, v in update.items() if k != "update_id"})
        async with asyncio.timeout(WAIT):
            while True:
                for sent in self.got[start:]:
                    if want(sent):
                        return sent
                self.arrived.clear()
                await self.arrived.wait()


def anything(_sent: Sent) -> bool:
    return True


def question(text: str = "hva koster det") -> dict[str, object]:
    return message_update_json(text, USER_ID)


@pytest.mark.usefixtures("polling_app")
async def test_the_bot_answers_again_after_500s_429s_and_an_outage(
    server: FakeTelegramServer, content: Content, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # as `python -m bot` sets it: no warning per 429
    chat = Chat(server)
    cost = content.topics["cost"].text["nb"].answer

    # Every call answered 500 (getUpdates too), then healthy: the question asked meanwhile
    # is answered once the polling loop's back-off comes round.
    server.inject(Fault("status", status=500, seconds=0.5))
    assert (await chat.reply_to(question(), anything)).text == cost

    # Half the replies meet a 429: the bot waits as Telegram asks and says it anyway.
    server.inject(Fault("flood", retry_after=1, share=0.5, methods=SENDS))
    for _ in range(2):
        assert (await chat.reply_to(question(), anything)).text == cost
    server.heal()
    assert server.faulted["flood"] >= 1

    # Gone: connections refused and every open one (the parked long poll) dropped; an update
    # that arrives meanwhile waits at Telegram and is answered after the outage.
    server.inject(Fault("down", seconds=1.0))
    assert (await chat.reply_to(question(), anything)).text == cost

    # Replies that fail on their way (502, dropped connections) are tried again.
    server.inject(Fault("status", status=502, share=0.5, methods=SENDS))
    assert (await chat.reply_to(question(), anything)).text == cost
    server.inject(Fault("close", share=0.5, methods=SENDS))
    assert (await chat.reply_to(question(), anything)).text == cost
    server.heal()
    await asyncio.sleep(0.1)
    assert server.pending_updates == 0  # nothing left behind at "Telegram"


@pytest.mark.usefixtures("polling_app")
async def test_no_registration_is_lost_while_half_the_calls_fail(
    server: FakeTelegramServer,
    http_config: Config,
    http_services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bot.botapi.reply_bot, "REPLY_BACKOFF", (0.01, 0.02))  # same tries, sooner
    chat = Chat(server)
    place = http_config.municipalities[0]
    choice = Choice(USER_ID, "nb", place.region_id, place, None, "any", "evening", True)
    server.inject(Fault("status", status=502, share=0.5, methods=SENDS))
    last: Sent | None = None
    for step in script(choice):
        if step.kind == "say":
            update = message_update_json(step.data, USER_ID)
        else:
            update = callback_update_json(
                step.data, USER_ID, message_id=last.message_id if last else 1
            )
        last = await chat.reply_to(
            update, anything if step.expect is None else offers(step.expect)
        )
    server.heal()
    assert server.faulted["status"] > 0
    registration = await http_services.storage.get_registration(http_services.user_key(USER_ID))
    assert registration is not None
    assert (registration.municipality, registration.time_pref) == (place.name, "evening")


async def test_sigterm_in_the_middle_of_a_broadcast_loses_nothing(
    tmp_path: Path, content: Content
) -> None:
    recipients = [710_500_001 + i for i in range(60)]
    config_path = write_config(tmp_path, 25.0)
    await seed_broadcast(config_for(tmp_path, config_path), content, recipients)
    server = FakeTelegramServer(token=TOKEN, latency=0.05)  # several sends in flight
    base_url = await server.start()
    chats = Chats(server, set(recipients))
    bot_process = BotProcess(base_url, tmp_path, config_path, tmp_path / "bot.log")
    try:
        await bot_process.start(server)
        assert await wait_for(lambda: len(chats.deliveries) >= 20, 60, 0.005)
        assert await bot_process.terminate() == 0  # a clean stop, mid-fan-out
        stopped_at = len(chats.deliveries)
        assert stopped_at < len(recipients)
        await bot_process.start(server)  # a restart finishes the job
        assert await wait_for(lambda: len(chats.deliveries) == len(recipients), 60)
        await asyncio.sleep(0.5)
        assert await bot_process.terminate() == 0
    finally:
        bot_process.kill()
        await server.stop()
    # Every recipient got it once: the requests under way at the stop were waited for and
    # recorded, so the restart sent only what was still pending.
    assert set(chats.deliveries) == set(recipients)
    assert max(chats.deliveries.values()) == 1
    _keys, outbox, check = await read_database(tmp_path)
    assert outbox["sent"] == len(recipients)
    assert outbox["pending"] == outbox["failed"] == 0
    assert check == "ok"
    log = bot_process.log_path.read_text(encoding="utf-8")
    assert "Traceback" not in log


async def test_a_poll_that_cannot_reach_telegram_comes_back_as_a_timeout(
    server: FakeTelegramServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The polling loop retries a timeout at once, so the request's own short back-off decides
    # how soon the bot notices Telegram is back (not the loop's, which grows to 30 s).
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    monkeypatch.setattr(bot.botapi.transport, "POLL_BACKOFF", (0.01,))
    monkeypatch.setattr(bot.botapi.transport, "POLL_BACKOFF_CAP", 0.02)
    replybot = create_bot(
        TOKEN, base_url=server.base_url, get_updates_request=PollingRequest(connection_pool_size=1)
    )
    async with replybot:
        server.inject(Fault("status", status=502))
        with pytest.raises(TimedOut):
            await replybot.get_updates(timeout=0)
        server.inject(Fault("down"))
        for _ in range(3):
            with pytest.raises(TimedOut):
                await replybot.get_updates(timeout=0)
        server.inject(Fault("flood", retry_after=2, methods=frozenset({"getUpdates"})))
        await server.listening()  # healed from "down": listening again
        with pytest.raises(RetryAfter):  # flood control reaches the loop as it is
            await replybot.get_updates(timeout=0)
        server.heal()
        assert await replybot.get_updates(timeout=0) == ()
