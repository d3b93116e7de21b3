"""The bot's HTTP transport: calls go to the Bot API as JSON bodies, uploads as multipart, over
the real HTTP stack (httpx) against bot.offline.fake_bot_server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import BadRequest, TimedOut

from bot.botapi.transport import JsonRequest
from bot.offline.fake_bot_api import Call, FakeApiError
from bot.offline.fake_bot_server import FakeTelegramServer

TOKEN = "123:TRANSPORT"
CHAT = 4242


@pytest.fixture
async def server() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer(token=TOKEN) as running:
        yield running


@pytest.fixture
async def bot(server: FakeTelegramServer) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=server.base_url, request=JsonRequest()) as client:
        yield client


async def test_a_message_with_buttons_goes_as_json_and_arrives_intact(
    server: FakeTelegramServer, bot: Bot
) -> None:
    text = "Hva koster det? Ingenting: gruppene er gratis & frivillige. «Æ, ø, å» 👍 %2C +"
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Taushetsplikt", callback_data="t:confidentiality")]]
    )
    message = await bot.send_message(CHAT, text, reply_markup=keyboard)

    assert message.text == text
    assert message.reply_markup == keyboard
    (sent,) = server.fake.messages_to(CHAT)
    assert sent.text == text
    assert sent.callback_data == ["t:confidentiality"]
    assert server.encodings[("sendMessage", "application/json")] == 1
    assert not any(kind == "application/x-www-form-urlencoded" for _m, kind in server.encodings)


async def test_a_file_still_goes_as_multipart(server: FakeTelegramServer, bot: Bot) -> None:
    calendar = InputFile(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", filename="møte.ics")
    await bot.send_document(CHAT, calendar, caption="Informasjonsmøte")

    (sent,) = server.fake.messages_to(CHAT)
    assert sent.method == "sendDocument"
    assert sent.text == "Informasjonsmøte"
    assert sent.document["content"] == b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    assert server.encodings[("sendDocument", "multipart/form-data")] == 1


async def test_an_error_answer_is_raised_as_telegram_would(
    server: FakeTelegramServer, bot: Bot
) -> None:
    def refuse(_call: Call) -> None:
        raise FakeApiError(400, "Bad Request: chat not found")

    server.fake.send_hook = refuse
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(CHAT, "hei")


async def test_a_slow_answer_times_out_with_the_timeout_given() -> None:
    async with FakeTelegramServer(token=TOKEN, latency=1.0) as slow:
        client = Bot(TOKEN, base_url=slow.base_url, request=JsonRequest())
        async with client:
            with pytest.raises(TimedOut):
                await client.send_message(CHAT, "hei", read_timeout=0.1)
