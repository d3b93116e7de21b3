"""The start-meeting invitations' buttons (pure: no Telegram, no storage).

- `ci:<action>[:<value>]` a coordinator composing one, always signed for that coordinator:
  `ci:m:<code>` the municipality, `ci:a:<all|kind>` who gets it, `ci:s` send, `ci:w` rewrite,
  `ci:x` cancel.
- `inv:<invitation id>:<answer>` a resident's answer: yes / maybe / no, `share` (asks first),
  `sharey` / `sharen` (share the contact or not).
"""

from __future__ import annotations

from enum import StrEnum

from bot.chat.button_data import CODE, NAME, IdShape, Press, Shape

COORDINATOR_PREFIX = "ci:"
ANSWER_PREFIX = "inv:"


class CoordinatorAction(StrEnum):
    MUNICIPALITY = "m"
    AUDIENCE = "a"  # "all", or a kind of group
    SEND = "s"
    REWRITE = "w"
    CANCEL = "x"


COORDINATOR = Shape(
    COORDINATOR_PREFIX,
    {
        CoordinatorAction.MUNICIPALITY: (CODE,),
        CoordinatorAction.AUDIENCE: (NAME,),
        CoordinatorAction.SEND: (),
        CoordinatorAction.REWRITE: (),
        CoordinatorAction.CANCEL: (),
    },
)
ALL = "all"  # the audience value for everyone waiting there


def coordinator(action: CoordinatorAction, value: str = "") -> str:
    """`ci:<action>[:<value>]` (the handler signs it for the coordinator)."""
    return COORDINATOR.encode(action, value) if value else COORDINATOR.encode(action)


def decode_coordinator(raw: str | None) -> Press | None:
    """The press of a verified `ci:` button (signature already checked), or None."""
    return COORDINATOR.decode(raw)


class Answer(StrEnum):
    YES = "yes"
    MAYBE = "maybe"
    NO = "no"
    SHARE = "share"
    SHARE_YES = "sharey"
    SHARE_NO = "sharen"


ANSWERS = (Answer.YES, Answer.MAYBE, Answer.NO)  # counted for the coordinator
ANSWER = IdShape(ANSWER_PREFIX, tuple(Answer))


def answer(invitation_id: int, what: Answer | str) -> str:
    return ANSWER.encode(invitation_id, what)


def decode_answer(raw: str | None) -> tuple[int, str] | None:
    """(invitation id, answer) of a resident's button, or None for anything malformed."""
    return ANSWER.decode(raw)
