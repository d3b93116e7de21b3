"""The /interest and /mine buttons: `i:<action>[:<value>]` (pure: no Telegram, no storage).

Every action the flow's views, the retention reminder and the poster welcome put on a button,
by name. Values are checked for shape here (a municipality code, a region id, a word); whether
the value is a real choice at the step the person is at is bot.interest.steps.decide's job.
flows/interest_words.yaml is keyed by the data without the prefix ("h:evening").
"""

from __future__ import annotations

from enum import StrEnum

from bot.chat.button_data import CODE, NAME, REGION, Press, Shape, one_of

PREFIX = "i:"


class Action(StrEnum):
    START = "start"  # "register interest here" on a poster link's welcome: i:start:<code>
    ENTRY = "e"  # the entry ticket: yes / other (asking for someone else) / unsure
    AGE = "a"  # yes / no
    SOBER = "l"  # ok / no (also the old combined age-and-sober question's button)
    REGION = "r"  # a region's municipalities: i:r:<region>
    TYPE = "t"  # "type the name"
    UNLISTED = "u"  # "my municipality is not listed"
    MUNICIPALITY = "m"  # i:m:<code>
    UNLISTED_IN = "ur"  # not listed, in this region: i:ur:<region>
    ELSEWHERE = "o"  # somewhere outside the configured regions
    KIND = "k"  # i:k:<open|theme|any>
    TIME = "h"  # i:h:<day|evening|either>
    CONTACT = "c"  # yes / no
    SUMMARY = "s"  # ok / edit / cancel
    CHANGE = "x"  # i:x:<field>: change one answer
    WITHDRAW = "w"  # /mine: withdraw (asks first)
    WITHDRAW_YES = "wy"
    WITHDRAW_NO = "wn"
    KEEP = "keep"  # the retention reminder: keep it another period
    DELETE = "del"  # the retention reminder: delete it now


_YES_NO = one_of("yes", "no")
SHAPE = Shape(
    PREFIX,
    {
        Action.START: (CODE,),
        Action.ENTRY: (one_of("yes", "other", "unsure"),),
        Action.AGE: (_YES_NO,),
        Action.SOBER: (one_of("ok", "no"),),
        Action.REGION: (REGION,),
        Action.TYPE: (),
        Action.UNLISTED: (),
        Action.MUNICIPALITY: (CODE,),
        Action.UNLISTED_IN: (REGION,),
        Action.ELSEWHERE: (),
        Action.KIND: (NAME,),
        Action.TIME: (NAME,),
        Action.CONTACT: (_YES_NO,),
        Action.SUMMARY: (one_of("ok", "edit", "cancel"),),
        Action.CHANGE: (NAME,),
        Action.WITHDRAW: (),
        Action.WITHDRAW_YES: (),
        Action.WITHDRAW_NO: (),
        Action.KEEP: (),
        Action.DELETE: (),
    },
)


def data(action: Action, value: str = "") -> str:
    """`i:<action>` or `i:<action>:<value>`."""
    return SHAPE.encode(action, value) if value else SHAPE.encode(action)


def municipality(code: str) -> str:
    return data(Action.MUNICIPALITY, code)


def decode(raw: str | None) -> Press | None:
    """The press, or None for anything that is not an interest button of the right shape."""
    return SHAPE.decode(raw)
