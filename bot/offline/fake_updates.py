"""Real telegram.Update objects built from a few facts, as Telegram would send them.

Used by the terminal chat, `ask`, tests and benchmarks; mirrors python-telegram-bot's own
tests/auxil/build_messages.py. `*_json` variants give the wire form for the HTTP fake.
"""

from __future__ import annotations

import itertools
from typing import Any

from telegram import Bot, Update

from bot.offline.fake_bot_api import BOT_ID, BOT_USERNAME

_update_ids = itertools.count(1)
_message_ids = itertools.count(1_000_000)
DEFAULT_DATE = 1_700_000_000


def user_json(user_id: int, language_code: str | None = "nb") -> dict[str, Any]:
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": "Test"}
    if language_code:
        user["language_code"] = language_code
    return user


def chat_json(chat_id: int, chat_type: str = "private") -> dict[str, Any]:
    if chat_type == "private":
        return {"id": chat_id, "type": "private", "first_name": "Test"}
    return {"id": chat_id, "type": chat_type, "title": "A group"}


def message_update_json(
    text: str | None,
    user_id: int = 1001,
    *,
    chat_id: int | None = None,
    chat_type: str = "private",
    language_code: str | None = "nb",
    edited: bool = False,
    sticker: bool = False,
    caption: str | None = None,
    date: int = DEFAULT_DATE,
) -> dict[str, Any]:
    """The JSON of an update carrying a message (or an edited message) from a user."""
    message: dict[str, Any] = {
        "message_id": next(_message_ids),
        "date": date,
        "chat": chat_json(user_id if chat_id is None else chat_id, chat_type),
        "from": user_json(user_id, language_code),
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        mention = f"@{BOT_USERNAME}"
        if mention in text:
            offset = text.index(mention)
            message.setdefault("entities", []).append(
                {"type": "mention", "offset": offset, "length": len(mention)}
            )
    if sticker:
        message["sticker"] = {
            "file_id": "sticker1",
            "file_unique_id": "s1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
    if caption is not None:  # a photo with a caption
        message["photo"] = [{"file_id": "p1", "file_unique_id": "p1", "width": 90, "height": 90}]
        message["caption"] = caption
        mention = f"@{BOT_USERNAME}"
        if mention in caption:
            message["caption_entities"] = [
                {"type": "mention", "offset": caption.index(mention), "length": len(mention)}
            ]
    if edited:
        message["edit_date"] = date + 5
    key = "edited_message" if edited else "message"
    return {"update_id": next(_update_ids), key: message}


def callback_update_json(
    data: str,
    user_id: int = 1001,
    *,
    message_id: int = 1,
    chat_id: int | None = None,
    language_code: str | None = "nb",
    message_text: str = "...",
) -> dict[str, Any]:
    """The JSON of a button press on a message the bot sent earlier."""
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": str(next(_update_ids)),
            "from": user_json(user_id, language_code),
            "chat_instance": "ci",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": DEFAULT_DATE,
                "chat": chat_json(user_id if chat_id is None else chat_id),
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Selvhjelp"},
                "text": message_text,
            },
        },
    }


def message_update(text: str | None, bot: Bot, user_id: int = 1001, **kwargs: Any) -> Update:
    """A real Update for a message; see message_update_json for the options."""
    update = Update.de_json(message_update_json(text, user_id, **kwargs), bot)
    assert update is not None
    return update


def callback_update(data: str, bot: Bot, user_id: int = 1001, **kwargs: Any) -> Update:
    """A real Update for a button press."""
    update = Update.de_json(callback_update_json(data, user_id, **kwargs), bot)
    assert update is not None
    return update
