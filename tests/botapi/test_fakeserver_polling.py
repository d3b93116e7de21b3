"""The real polling loop over HTTP: python-telegram-bot's HTTPXRequest and Updater talk to
bot.offline.fake_bot_server on 127.0.0.1 exactly as they would talk to Telegram."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator

import pytest
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter

from bot.composition import build_application
from bot.content import Content
from bot.offline.fake_bot_api import Call, FakeApiError, Sent
from bot.offline.fake_bot_server import FakeTelegramServer
from bot.offline.fake_updates import callback_update_json, message_update_json
from bot.services import Services
from tests.support import App

USER_ID = 5005


@pytest.fixture
async def polling_app(http_services: Services) -> AsyncIterator[App]:
    """The real bot, polling the fake server (started and stopped as `python -m bot` does)."""
    app = build_application(http_services)
    assert app.updater is not None
    async with app:
        await app.updater.start_polling(poll_interval=0.0, timeout=2)
        await app.start()
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


async def replies(server: FakeTelegramServer, count: int) -> list[Sent]:
    """Wait (a few seconds at most) until the bot has sent `count` messages."""
    arrived = asyncio.Event()

    def check(_sent: Sent) -> None:
        if len(server.fake.sent) >= count:
            arrived.set()

    server.fake.on_message = check
    if len(server.fake.sent) >= count:
        arrived.set()
    try:
        await asyncio.wait_for(arrived.wait(), 5)
    except TimeoutError:
        got = [s.text[:40] for s in server.fake.sent]
        pytest.fail(f"expected {count} messages from the bot, got {len(got)}: {got}")
    return server.fake.sent


@pytest.mark.usefixtures("polling_app")
async def test_polling_bot_answers_start_a_question_and_a_button(
    server: FakeTelegramServer, content: Content
) -> None:
    server.push_update(message_update_json("/start", USER_ID))
    server.push_update(message_update_json("hva koster det", USER_ID))
    server.push_update(callback_update_json("menu", USER_ID, message_id=2))

    welcome, cost, menu = await replies(server, 3)

    assert (welcome.chat_id, welcome.text) == (USER_ID, content.text("nb", "start.welcome"))
    assert welcome.callback_data == ["menu", "help"]
    assert cost.text == content.topics["cost"].text["nb"].answer
    assert "menu" in cost.callback_data
    assert menu.method == "editMessageText"
    assert menu.message_id == 2
    assert [
        c.params["callback_query_id"]
        for c in server.fake.calls
        if c.method == "answerCallbackQuery"
    ]
    # Every update was confirmed by the next getUpdates offset (or by updater.stop()).
    await asyncio.sleep(0.05)
    assert server.pending_updates == 0


@pytest.mark.usefixtures("polling_app")
async def test_polling_bot_answers_an_english_question_in_english(
    server: FakeTelegramServer, content: Content
) -> None:
    server.push_update(message_update_json("how much does it cost", USER_ID, language_code="en"))
    (sent,) = await replies(server, 1)
    assert sent.text == content.topics["cost"].text["en"].answer


async def test_errors_reach_the_library_as_telegram_sends_them(
    server: FakeTelegramServer, http_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # python-telegram-bot 22 warns on every RetryAfter unless opted in to timedelta values.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")

    def flood(call: Call) -> None:  # noqa: ARG001
        raise FakeApiError(429, "Too Many Requests: retry after 7", retry_after=7)

    app = build_application(http_services)
    async with app:
        server.fake.send_hook = flood
        with pytest.raises(RetryAfter) as flooded:
            await app.bot.send_message(USER_ID, "hei")
        assert flooded.value.retry_after == dt.timedelta(seconds=7)  # from parameters

        def blocked(call: Call) -> None:  # noqa: ARG001
            raise FakeApiError(403, "Forbidden: bot was blocked by the user")

        server.fake.send_hook = blocked
        with pytest.raises(Forbidden, match="blocked by the user"):
            await app.bot.send_message(USER_ID, "hei")

        def unchanged(call: Call) -> None:  # noqa: ARG001
            raise FakeApiError(400, "Bad Request: message is not modified")

        server.fake.send_hook = unchanged
        with pytest.raises(BadRequest, match="essage is not modified"):
            await app.bot.edit_message_text("hei", chat_id=USER_ID, message_id=1)

        server.fake.send_hook = None
        with pytest.raises(InvalidToken):  # Telegram: 404 for a method it does not have
            await app.bot.get_chat(USER_ID)


async def test_get_updates_honours_offset_limit_and_timeout(
    server: FakeTelegramServer, http_services: Services
) -> None:
    app = build_application(http_services)
    async with app:
        started = time.monotonic()
        assert await app.bot.get_updates(timeout=0.2) == ()  # nothing queued: waits, then []
        assert time.monotonic() - started >= 0.15

        first = server.push_update(message_update_json("en", USER_ID))
        server.push_update(message_update_json("to", USER_ID))
        server.push_update(message_update_json("tre", USER_ID))
        started = time.monotonic()
        got = await app.bot.get_updates(limit=2, timeout=5)
        assert time.monotonic() - started < 1  # pending updates come back at once
        assert [u.update_id for u in got] == [first, first + 1]
        assert [u.update_id for u in await app.bot.get_updates()] == [first, first + 1, first + 2]
        rest = await app.bot.get_updates(offset=first + 2)  # confirms the first two
        assert [u.message.text for u in rest if u.message] == ["tre"]
        assert server.pending_updates == 1

        waiting = asyncio.create_task(app.bot.get_updates(offset=first + 3, timeout=5))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # a long poll parks until something arrives ...
        server.push_update(message_update_json("fire", USER_ID))
        late = await asyncio.wait_for(waiting, 2)  # ... and returns as soon as it does
        assert [u.message.text for u in late if u.message] == ["fire"]


async def test_uploads_and_plain_text_parameters_arrive_as_sent(
    server: FakeTelegramServer, http_services: Services
) -> None:
    app = build_application(http_services)
    async with app:
        await app.bot.send_document(USER_ID, b"a;b\n1;2\n", filename="digest.csv", caption="42")
        await app.bot.send_message(USER_ID, "true")
    document, text = server.fake.sent
    assert document.document == {
        "filename": "digest.csv",
        "content_type": "text/csv",
        "content": b"a;b\n1;2\n",
    }
    assert document.text == "42"  # a caption is text, never decoded as JSON
    assert (text.chat_id, text.text) == (USER_ID, "true")
