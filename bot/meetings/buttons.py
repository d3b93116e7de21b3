"""The information meetings' buttons (pure: no Telegram, no storage).

- `ms:<action>[:<value>]` what a resident follows (bot.meetings.subscriptions has the rules):
  `ms:home` the overview, `ms:open` the same as a new message (from an FAQ answer), `ms:all`
  stop all; `ms:r:<region>` a region's municipalities; `ms:m:<code>` / `ms:w:<region>` follow
  a municipality / a whole region; `ms:sub:<code>` / `ms:subr:<region>` the same from another
  message; `ms:un:<code>` / `ms:unr:<region>` stop one.
- `mt:<meeting id>:<action>` one meeting's buttons, signed for their recipient (`~tag`; old
  unsigned ones still work on a meeting for the presser's places).
- `an:<action>[:<value>]` the office's /announce buttons, always signed for that office.
"""

from __future__ import annotations

from enum import StrEnum

from bot.chat.button_data import CODE, NAME, NUMBER, REGION, IdShape, Press, Shape

FOLLOW_PREFIX = "ms:"
MEETING_PREFIX = "mt:"
ANNOUNCE_PREFIX = "an:"


class FollowAction(StrEnum):
    HOME = "home"
    OPEN = "open"
    ALL = "all"  # stop following everything
    REGION = "r"  # show a region's municipalities
    MUNICIPALITY = "m"
    WHOLE_REGION = "w"
    SUBSCRIBE = "sub"  # a municipality, from another message
    SUBSCRIBE_REGION = "subr"
    UNSUBSCRIBE = "un"
    UNSUBSCRIBE_REGION = "unr"


FOLLOW = Shape(
    FOLLOW_PREFIX,
    {
        FollowAction.HOME: (),
        FollowAction.OPEN: (),
        FollowAction.ALL: (),
        FollowAction.REGION: (REGION,),
        FollowAction.MUNICIPALITY: (CODE,),
        FollowAction.WHOLE_REGION: (REGION,),
        FollowAction.SUBSCRIBE: (CODE,),
        FollowAction.SUBSCRIBE_REGION: (REGION,),
        FollowAction.UNSUBSCRIBE: (CODE,),
        FollowAction.UNSUBSCRIBE_REGION: (REGION,),
    },
)
# The actions about a region rather than a municipality.
REGION_ACTIONS = frozenset(a for a, values in FOLLOW.actions.items() if values == (REGION,))


def follow(action: FollowAction, value: str = "") -> str:
    return FOLLOW.encode(action, value) if value else FOLLOW.encode(action)


def follow_place(action: str, region_id: str, code: str = "") -> str:
    """`ms:<action>:<code>` for a municipality, `ms:<action>r:<region>` for a whole region
    (`action` "sub" or "un")."""
    if code:
        return FOLLOW.encode(action, code)
    return FOLLOW.encode(f"{action}r", region_id)


def decode_follow(raw: str | None) -> Press | None:
    return FOLLOW.decode(raw)


class MeetingAction(StrEnum):
    CALENDAR = "ics"
    REMIND = "rem"
    COMING = "go"
    STOP = "stop"
    SHOW = "show"  # the meeting's card, from the /meetings list


MEETING = IdShape(MEETING_PREFIX, tuple(MeetingAction))


def meeting(meeting_id: int, action: MeetingAction | str) -> str:
    """`mt:<id>:<action>` (unsigned: the caller signs it for its recipient)."""
    return MEETING.encode(meeting_id, action)


def decode_meeting(raw: str | None) -> tuple[int, str] | None:
    """(meeting id, action) of a well-formed, unsigned-or-verified `mt:` button, or None."""
    return MEETING.decode(raw)


class AnnounceAction(StrEnum):
    REGION = "r"  # announce in this region (an office with several)
    SKIP = "skip"  # an:skip:<step>
    TARGET = "t"  # an:t:<code>: toggle a municipality
    TARGET_ALL = "tall"
    TARGETS_DONE = "tdone"
    SEND = "send"
    EDIT = "e"  # an:e:<field>
    CANCEL = "x"  # stop composing
    CHANGE = "ch"  # an:ch:<meeting id>: change an announced meeting
    CANCEL_MEETING = "cx"  # an:cx:<meeting id>: ask before cancelling it
    CANCEL_YES = "cy"  # an:cy:<meeting id>
    CANCEL_NO = "cn"


ANNOUNCE = Shape(
    ANNOUNCE_PREFIX,
    {
        AnnounceAction.REGION: (REGION,),
        AnnounceAction.SKIP: (NAME,),
        AnnounceAction.TARGET: (CODE,),
        AnnounceAction.TARGET_ALL: (),
        AnnounceAction.TARGETS_DONE: (),
        AnnounceAction.SEND: (),
        AnnounceAction.EDIT: (NAME,),
        AnnounceAction.CANCEL: (),
        AnnounceAction.CHANGE: (NUMBER,),
        AnnounceAction.CANCEL_MEETING: (NUMBER,),
        AnnounceAction.CANCEL_YES: (NUMBER,),
        AnnounceAction.CANCEL_NO: (),
    },
)


def announce(action: AnnounceAction, value: str | int = "") -> str:
    """`an:<action>[:<value>]` (the handler signs it for the office)."""
    return ANNOUNCE.encode(action, str(value)) if value != "" else ANNOUNCE.encode(action)


def decode_announce(raw: str | None) -> Press | None:
    """The press of a verified `an:` button (signature already checked), or None."""
    return ANNOUNCE.decode(raw)
