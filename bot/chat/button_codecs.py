"""Every feature's button codec in one list: the prefixes that route a press to its feature.

Each feature's buttons are built and read only by its codec (bot/<feature>/buttons.py, on the
shapes of bot.chat.button_data); its CallbackQueryHandler's pattern is the codec's. The generic
button router (bot.chat.button_router) takes what has no prefix of its own: the FAQ's `t:`,
`c:`, `menu` and the general `lang:`, `forget:`, `help`. tests/general/test_button_codecs.py
checks that no head routes another feature's data, that every button fits Telegram's 64 bytes
(signed ones with their tag) and that today's bytes decode as they always did.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.answers import buttons as answers
from bot.chat.button_data import IdShape, Shape
from bot.general import buttons as general
from bot.interest import buttons as interest
from bot.invitations import buttons as invitations
from bot.meetings import buttons as meetings
from bot.poster import buttons as poster
from bot.roles import buttons as roles


@dataclass(frozen=True)
class Codec:
    """One kind of button: whose it is, its shape, and whether it is always signed."""

    feature: str
    shape: Shape | IdShape
    signed: bool = False  # always signed for its viewer (ButtonSigner): 11 more bytes


CODECS: tuple[Codec, ...] = (
    Codec("answers", answers.SHAPE),
    Codec("general", general.SHAPE),
    Codec("interest", interest.SHAPE),
    Codec("meetings.follow", meetings.FOLLOW),
    # Signed for the recipient since issue 11; unsigned ones from before still work.
    Codec("meetings.meeting", meetings.MEETING, signed=True),
    Codec("meetings.announce", meetings.ANNOUNCE, signed=True),
    Codec("invitations.coordinator", invitations.COORDINATOR, signed=True),
    Codec("invitations.answer", invitations.ANSWER),
    Codec("roles", roles.SHAPE, signed=True),
    Codec("poster", poster.SHAPE, signed=True),
)


@dataclass(frozen=True)
class Head:
    """What a feature's data starts with (`exact`: what it is, for a button with no value)."""

    text: str
    exact: bool
    codec: Codec

    def routes(self, data: str) -> bool:
        return data == self.text if self.exact else data.startswith(self.text)


def heads(codecs: tuple[Codec, ...] = CODECS) -> list[Head]:
    """Every head: a codec's prefix, or for the prefix-less FAQ and general buttons each
    action (`t:` for one with values, `menu` for one without)."""
    found = []
    for codec in codecs:
        shape = codec.shape
        if shape.prefix:
            found.append(Head(shape.prefix, False, codec))
            continue
        assert isinstance(shape, Shape)
        for action, values in shape.actions.items():
            exact = not values
            found.append(Head(action if exact else f"{action}:", exact, codec))
    return found


def codec_for(data: str) -> Codec | None:
    """The codec whose head routes `data` (None: nobody's; signed data with its tag)."""
    return next((h.codec for h in heads() if h.routes(data)), None)
