"""ReplyBot's lean reply calls: the same Bot API calls and errors as send_message and
edit_message_text, without turning Telegram's answer into objects."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden

from bot.botapi.reply_bot import ReplyBot
from bot.chat.handler_tools import send, show
from bot.chat.rendering import Rendered
from bot.offline.fake_bot_api import Call, FakeApiError, FakeBotRequest, FakeTelegram
from bot.offline.fake_updates import callback_update, message_update
from tests.support import App

CHAT = 3131
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Mer", callback_data="menu")]])


@pytest.fixture
async def replybot(fake: FakeTelegram) -> AsyncIterator[ReplyBot]:
    async with ReplyBot("123:REPLY", request=FakeBotRequest(fake)) as client:
        yield client


async def test_send_text_sends_text_and_buttons_and_returns_the_message_id(
    fake: FakeTelegram, replybot: ReplyBot
) -> None:
    first = await replybot.send_text(CHAT, "Gruppene er gratis.", KEYBOARD)
    second = await replybot.send_text(CHAT, "Uten knapper.")

    sent = fake.messages_to(CHAT)
    assert [s.text for s in sent] == ["Gruppene er gratis.", "Uten knapper."]
    assert sent[0].callback_data == ["menu"]
    assert sent[1].buttons == []
    assert [first, second] == [s.message_id for s in sent]
    assert first != second


async def test_edit_text_edits_the_message_in_place(
    fake: FakeTelegram, replybot: ReplyBot
) -> None:
    message_id = await replybot.send_text(CHAT, "Før")
    await replybot.edit_text(CHAT, message_id, "Etter", KEYBOARD)

    edit = fake.sent[-1]
    assert (edit.method, edit.message_id, edit.text) == ("editMessageText", message_id, "Etter")
    assert edit.callback_data == ["menu"]


@pytest.mark.parametrize(
    ("answer", "raised"),
    [
        (FakeApiError(403, "Forbidden: bot was blocked by the user"), Forbidden),
        (FakeApiError(400, "Bad Request: message is not modified"), BadRequest),
    ],
)
async def test_telegram_refusals_raise_the_library_errors(
    fake: FakeTelegram, replybot: ReplyBot, answer: FakeApiError, raised: type[Exception]
) -> None:
    def refuse(_call: Call) -> None:
        raise answer

    fake.send_hook = refuse
    with pytest.raises(raised):
        await replybot.send_text(CHAT, "hei")
    with pytest.raises(raised):
        await replybot.edit_text(CHAT, 1, "hei")


def test_the_application_talks_through_a_replybot(app: App) -> None:
    assert isinstance(app.bot, ReplyBot)


async def test_send_and_show_also_work_on_a_plain_bot(fake: FakeTelegram) -> None:
    async with Bot("123:PLAIN", request=FakeBotRequest(fake)) as plain:
        await send(message_update("hei", plain, user_id=CHAT), Rendered("Hei igjen", KEYBOARD))
        await show(callback_update("menu", plain, user_id=CHAT), Rendered("Endret"))

    first, edited = fake.messages_to(CHAT)
    assert (first.method, first.text, first.callback_data) == (
        "sendMessage",
        "Hei igjen",
        ["menu"],
    )
    assert (edited.method, edited.text) == ("editMessageText", "Endret")
