"""The shape every feature's button codec shares (pure: no Telegram, no storage).

Callback data is `<prefix><action>[:<value>...]`, e.g. `i:m:lyngen`, `an:tdone`, or for the FAQ
`t:<topic>`; privileged buttons add `~<tag>` (bot.security.pseudonyms.ButtonSigner), which the
handler verifies before the codec reads the rest. A codec module per feature (bot/<feature>/
buttons.py) names its actions and the pattern of each value, builds data only through
`Shape.encode` and reads it back only through `Shape.decode`, which refuses anything that is
not exactly one of its actions with well-formed values: forged or malformed data gives None.
The bytes are those the bot has always sent, so buttons already in people's chats keep working.
bot/chat/button_codecs.py lists every prefix; tests/general/test_button_codecs.py checks them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from bot.security.pseudonyms import ButtonSigner

MAX_BYTES = 64  # Telegram's limit on callback data, in UTF-8 bytes
SEPARATOR = ":"
SIGNATURE_MARK = "~"  # ButtonSigner: `<data>~<tag>`; never inside unsigned data

# Value patterns, as config.yaml and flows/ allow them (config checks codes with the same rule).
CODE = re.compile(r"[a-z0-9-]{1,24}")  # a municipality's deep-link code
# A region id: config allows any text, and its buttons always carried it as it is (the 64
# bytes are checked for the whole data); only the separator and the signature mark cannot be in it.
REGION = re.compile(r"[^:~]+")
NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")  # topic, category, theme, field or step ids
NUMBER = re.compile(r"[0-9]{1,12}")  # a database id (ASCII digits only: "²" is not one)
HEX = re.compile(r"[0-9a-f]{1,64}")  # a hash prefix (grant and invite ids)
LANGUAGE = re.compile(r"[a-z]{2}")


def too_long(data: str) -> bool:
    """More than Telegram's 64 bytes of UTF-8 (what Telegram would never send back)."""
    return len(data) > MAX_BYTES or (not data.isascii() and len(data.encode()) > MAX_BYTES)


def one_of(*words: str) -> re.Pattern[str]:
    """A pattern that matches exactly one of `words`."""
    return re.compile("|".join(re.escape(w) for w in words))


class Press(NamedTuple):
    """A decoded button: its action and its values (all strings, already validated)."""

    action: str
    values: tuple[str, ...] = ()

    @property
    def value(self) -> str:
        """The first value, or "" when there is none."""
        return self.values[0] if self.values else ""


@dataclass(frozen=True)
class Shape:
    """One feature's `<prefix><action>[:<value>...]` buttons.

    `actions` maps each action to the patterns of its values, in order (an empty tuple: the
    action takes no value). `prefix` includes its separator (`"i:"`)."""

    prefix: str
    actions: Mapping[str, tuple[re.Pattern[str], ...]]

    @property
    def pattern(self) -> str:
        """The CallbackQueryHandler pattern that routes this feature's buttons to it."""
        return "^" + re.escape(self.prefix)

    def encode(self, action: str, *values: str) -> str:
        """The data for `action` with `values`; ValueError for anything `decode` would refuse,
        so a view can never make a button its handler does not understand."""
        data = self.prefix + SEPARATOR.join((action, *values))
        if self.decode(data) is None:
            raise ValueError(f"not a valid {self.prefix!r} button: {action} {values}")
        return data

    @cached_property
    def _whole(self) -> dict[str, re.Pattern[str]]:
        """Per action, one pattern for the whole data (one match per press)."""
        return {
            action: re.compile(
                re.escape(self.prefix + action)
                + "".join(f"{SEPARATOR}({p.pattern})" for p in patterns)
            )
            for action, patterns in self.actions.items()
        }

    def decode(self, data: str | None) -> Press | None:
        """The press `data` means, or None for anything forged, out of shape or too long."""
        if not data or not data.startswith(self.prefix) or too_long(data):
            return None
        action = data[len(self.prefix) :].partition(SEPARATOR)[0]
        whole = self._whole.get(action)
        found = whole.fullmatch(data) if whole is not None else None
        return None if found is None else Press(action, found.groups())


def fits(data: str, signed: bool = False) -> bool:
    """Whether `data` (signed: plus `~` and ButtonSigner's tag) fits in Telegram's 64 bytes."""
    extra = len(SIGNATURE_MARK) + ButtonSigner.TAG_CHARS if signed else 0
    return len(data.encode()) + extra <= MAX_BYTES


@dataclass(frozen=True)
class IdShape:
    """Buttons about one stored thing: `<prefix><id>:<answer>` (a meeting's `mt:12:go`, an
    invitation's `inv:7:yes`). `answers` lists every answer the feature knows."""

    prefix: str
    answers: tuple[str, ...]

    @property
    def pattern(self) -> str:
        return "^" + re.escape(self.prefix)

    def encode(self, thing_id: int, answer: str) -> str:
        data = f"{self.prefix}{thing_id}{SEPARATOR}{answer}"
        if self.decode(data) is None:
            raise ValueError(f"not a valid {self.prefix!r} button: {thing_id} {answer}")
        return data

    def decode(self, data: str | None) -> tuple[int, str] | None:
        """(id, answer), or None for anything forged, out of shape or unknown."""
        if not data or not data.startswith(self.prefix) or too_long(data):
            return None
        thing_id, sep, answer = data[len(self.prefix) :].partition(SEPARATOR)
        if not sep or not NUMBER.fullmatch(thing_id) or answer not in self.answers:
            return None
        return int(thing_id), answer
