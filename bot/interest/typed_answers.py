"""Typed answers in the interest flow (pure): which button of the current step a typed text
means, so typing "kveld", "ja", "2" or "angst" works like pressing.

Conservative on purpose: a text is taken only when it names exactly one button of the step
(its label in either language, its number, or a word from flows/interest_words.yaml), with
nothing else in it but filler words. Anything else is left to the caller (a municipality, a
question, or the step again). The text is only compared, never kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

from bot import yaml_strict
from bot.content import FLOWS_DIR
from bot.interest.buttons import PREFIX
from bot.textnorm import normalise, tokens

# (label, data) of the buttons the current step shows in a language, in order (the caller
# reads them off the step's view: bot.interest.views.step_buttons).
StepButtons = Callable[[str], Sequence[tuple[str, str]]]

WORDS_FILE = FLOWS_DIR / "interest_words.yaml"
LANGUAGES = ("nb", "en")
MAX_TYPED_CHARS = 80  # an answer is a few words; longer text is a question or a story


@cache
def _words(
    path: Path = WORDS_FILE,
) -> tuple[frozenset[str], dict[str, tuple[tuple[str, ...], ...]]]:
    raw = yaml_strict.load(path.read_text(encoding="utf-8")) or {}
    for phrases in (raw.get("filler", ()), *(raw.get("options") or {}).values()):
        for phrase in phrases:
            if not isinstance(phrase, str):  # YAML reads a bare yes/no as a boolean
                raise ValueError(f"{path.name}: quote {phrase!r} (expected text)")
    filler = frozenset(w for f in raw.get("filler", ()) for w in _tokens(str(f)))
    options = {
        str(data): tuple(t for t in (tuple(_tokens(str(p))) for p in phrases) if t)
        for data, phrases in (raw.get("options") or {}).items()
    }
    return filler, options


def _tokens(text: str) -> list[str]:
    return tokens(normalise(text, MAX_TYPED_CHARS))


def _means(typed: list[str], phrase: tuple[str, ...], filler: frozenset[str]) -> bool:
    words = set(typed)
    rest = {w for w in words - set(phrase) if not w.isdigit()}  # "nei, jeg er 17"
    return set(phrase) <= words and rest <= filler


def typed_option(step_buttons: StepButtons, lang: str, text: str) -> str | None:
    """The data of the one button of the step the text means (e.g. "i:h:evening"), or None."""
    if len(text) > MAX_TYPED_CHARS:
        return None
    typed = _tokens(text)
    if not typed:
        return None
    buttons = step_buttons(lang)
    filler, options = _words()
    numbers = [w for w in typed if w.isdigit()]
    if len(numbers) == 1 and set(typed) - {numbers[0]} <= filler:
        index = int(numbers[0]) - 1
        return buttons[index][1] if 0 <= index < len(buttons) else None
    labels: dict[str, set[tuple[str, ...]]] = {data: set() for _, data in buttons}
    for other in LANGUAGES:
        for label, data in step_buttons(other):
            if data in labels:
                labels[data].add(tuple(_tokens(label)))
    for data in labels:
        labels[data].update(options.get(data.removeprefix(PREFIX), ()))
    exact = [d for d, phrases in labels.items() if tuple(typed) in phrases]
    if len(exact) == 1:
        return exact[0]
    found = [
        d for d, phrases in labels.items() if any(_means(typed, p, filler) for p in phrases if p)
    ]
    return found[0] if len(found) == 1 else None
