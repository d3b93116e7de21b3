"""The general commands' buttons: `lang:<code>` (/language), `forget:yes|no` (/forget) and
`help`. Pure: no Telegram. Routed by the generic button router (bot.chat.button_router)."""

from __future__ import annotations

from enum import StrEnum

from bot.chat.button_data import LANGUAGE, Press, Shape, one_of

PREFIX = ""  # like the FAQ's: each action is its own head (`lang:`, `forget:`, `help`)


class Action(StrEnum):
    LANGUAGE = "lang"
    FORGET = "forget"
    HELP = "help"


SHAPE = Shape(
    PREFIX,
    {Action.LANGUAGE: (LANGUAGE,), Action.FORGET: (one_of("yes", "no"),), Action.HELP: ()},
)


def language(code: str) -> str:
    return SHAPE.encode(Action.LANGUAGE, code)


def forget(yes: bool) -> str:
    return SHAPE.encode(Action.FORGET, "yes" if yes else "no")


HELP = SHAPE.encode(Action.HELP)


def decode(raw: str | None) -> Press | None:
    return SHAPE.decode(raw)
