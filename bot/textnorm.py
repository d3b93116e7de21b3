"""Text normalisation shared by the question matcher and the crisis detector (pure)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

# Only this much of a message is analysed: a question fits in far less, and it bounds the work a
# 4096-character message can cause.
MAX_ANALYSED_CHARS = 1500

_TOKEN_RE = re.compile(r"[0-9a-zæøåäöüéèáàóôç]+(?:'[a-z]+)?")
_URL_RE = re.compile(r"https?://\S+|www\.\S+|@\w+")
_REPEAT_RE = re.compile(r"(.)\1{2,}")


def normalise(text: str, limit: int | None = MAX_ANALYSED_CHARS) -> str:
    """Lower-case NFKC text with links removed and letters repeated 3+ times squeezed to 2.

    `limit` bounds the work for question matching; crisis detection passes None, because the
    words that matter may come at the end of a long story.
    """
    text = unicodedata.normalize("NFKC", text[:limit]).casefold()
    text = text.replace("\u2019", "'").replace("`", "'")
    text = _URL_RE.sub(" ", text)
    return _REPEAT_RE.sub(r"\1\1", text)


def tokens(text: str) -> list[str]:
    """Word tokens of already-normalised text."""
    return _TOKEN_RE.findall(text)


def replace_marks(text: str, marks: Iterable[tuple[str, str]]) -> str:
    """`text` with each mark (an emoji that stands for a word) replaced by its word."""
    for mark, word in marks:
        if mark in text:
            text = text.replace(mark, f" {word} ")
    return text


def apply_variants(words: list[str], variants: Mapping[str, str]) -> list[str]:
    """Map nynorsk/dialect spellings to the bokmål words the content uses."""
    return [variants.get(w, w) for w in words]
