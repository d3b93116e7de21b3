"""/poster's buttons, always signed for the person who asked (pure: no Telegram).

`po:m:<code>` chooses the municipality, `po:l:<code>:<lang>` makes the poster in that
language. They carry everything needed, so no flow state is kept.
"""

from __future__ import annotations

from enum import StrEnum

from bot.chat.button_data import CODE, LANGUAGE, Press, Shape

PREFIX = "po:"


class Action(StrEnum):
    MUNICIPALITY = "m"
    LANGUAGE = "l"


SHAPE = Shape(PREFIX, {Action.MUNICIPALITY: (CODE,), Action.LANGUAGE: (CODE, LANGUAGE)})


def municipality(code: str) -> str:
    return SHAPE.encode(Action.MUNICIPALITY, code)


def language(code: str, lang: str) -> str:
    return SHAPE.encode(Action.LANGUAGE, code, lang)


def decode(raw: str | None) -> Press | None:
    """The press of a verified `po:` button (signature already checked), or None."""
    return SHAPE.decode(raw)
