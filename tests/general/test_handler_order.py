"""The free-text handler is checked first for speed; that is only safe while no other handler
would also take an update it takes. Checked on every kind of update a chat can produce."""

from __future__ import annotations

from typing import Any

from telegram import Update

from bot.answers import handlers as questions
from bot.offline.fake_updates import BOT_USERNAME, callback_update_json, message_update_json
from tests.support import App

KINDS: dict[str, dict[str, Any]] = {
    "question": message_update_json("hva koster det"),
    "edited question": message_update_json("hva koster det", edited=True),
    "crisis words": message_update_json("jeg orker ikke mer"),
    "command": message_update_json("/start"),
    "command with argument": message_update_json("/start lyngen"),
    "unknown command": message_update_json("/nonsense"),
    "text that merely mentions a command": message_update_json("hva gjør /start?"),
    "sticker": message_update_json(None, sticker=True),
    "photo with caption": message_update_json(None, caption="hei"),
    "group text": message_update_json("hei", chat_id=-100, chat_type="group"),
    "group mention": message_update_json(
        f"@{BOT_USERNAME} hei", chat_id=-100, chat_type="supergroup"
    ),
    "group command": message_update_json("/faq", chat_id=-100, chat_type="group"),
    "button press": callback_update_json("menu"),
}


def takers(app: App, data: dict[str, Any]) -> list[str]:
    update = Update.de_json(data, app.bot)
    return [
        f"{type(handler).__name__}:{handler.callback.__name__}"
        for handlers in app.handlers.values()
        for handler in handlers
        if handler.check_update(update) not in (None, False)
    ]


def test_free_text_is_first_and_only_free_text_takes_what_it_takes(app: App) -> None:
    first_group = app.handlers[min(app.handlers)]
    assert first_group[0] is questions.FREE_TEXT
    taken_by_free_text = []
    for kind, data in KINDS.items():
        found = takers(app, data)
        if "MessageHandler:on_text" in found:
            assert found == ["MessageHandler:on_text"], kind
            taken_by_free_text.append(kind)
    assert taken_by_free_text == [
        "question",
        "edited question",
        "crisis words",
        "text that merely mentions a command",
    ]
