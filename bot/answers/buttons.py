"""The FAQ's buttons: `t:<topic>` (a topic's answer), `c:<category>` (its topics) and `menu`
(the categories). Pure: no Telegram. Whether the topic or category exists is checked against
flows/ by bot.chat.rendering.parse_callback."""

from __future__ import annotations

from enum import StrEnum

from bot.chat.button_data import NAME, Press, Shape

# No prefix of their own: the oldest buttons, routed by the generic button router
# (bot.chat.button_router), each action its own head (`t:`, `c:`, `menu`).
PREFIX = ""


class Action(StrEnum):
    TOPIC = "t"
    CATEGORY = "c"
    MENU = "menu"


SHAPE = Shape(PREFIX, {Action.TOPIC: (NAME,), Action.CATEGORY: (NAME,), Action.MENU: ()})


def topic(topic_id: str) -> str:
    return SHAPE.encode(Action.TOPIC, topic_id)


def category(category_id: str) -> str:
    return SHAPE.encode(Action.CATEGORY, category_id)


MENU = SHAPE.encode(Action.MENU)


def decode(raw: str | None) -> Press | None:
    return SHAPE.decode(raw)
