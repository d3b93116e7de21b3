"""Crisis detection (pure). Runs before any other matching on every message."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.textnorm import apply_variants, normalise, tokens

WORD_START = r"\b"
NEVER = r"(?!x)x"


def _alternation(patterns: Sequence[str]) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


def combine(named: Mapping[str, Sequence[str]]) -> tuple[re.Pattern[str], dict[str, str]]:
    """One regex for many patterns, and which named group stands for which name.

    Patterns that begin with a word boundary share one leading `\\b`, so each alternative then
    starts with a letter: Python's regex engine skips a branch whose first letter differs
    without entering it, which makes a search about four times faster than `\\bA|\\bB|...`.
    The set of texts matched is the same (`\\b(?:A|B)` is `\\bA|\\bB`).
    """
    at_word: list[str] = []
    anywhere: list[str] = []
    groups: dict[str, str] = {}
    for name, patterns in named.items():
        starts = [p.removeprefix(WORD_START) for p in patterns if p.startswith(WORD_START)]
        others = [p for p in patterns if not p.startswith(WORD_START)]
        for bucket, ps in ((at_word, starts), (anywhere, others)):
            if ps:
                group = f"g{len(groups)}"
                groups[group] = name
                bucket.append(f"(?P<{group}>{_alternation(ps)})")
    parts = [f"{WORD_START}(?:{'|'.join(at_word)})"] if at_word else []
    parts.extend(anywhere)
    return re.compile("|".join(parts) or NEVER), groups


@dataclass(frozen=True)
class CrisisDetector:
    """Compiled crisis patterns from flows/safety.yaml."""

    pattern: re.Pattern[str]  # one alternation, named groups per kind: one search per text
    kinds: Mapping[str, str]  # named group -> kind ('suicide', 'self_harm', 'danger')
    exclude: re.Pattern[str] | None
    variants: Mapping[str, str]

    @classmethod
    def build(
        cls,
        patterns: Mapping[str, Sequence[str]],
        exclude: Sequence[str],
        variants: Mapping[str, str],
    ) -> CrisisDetector:
        combined, kinds = combine({kind: ps for kind, ps in patterns.items() if ps})
        excl = combine({"exclude": exclude})[0] if exclude else None
        return cls(combined, kinds, excl, dict(variants))

    def detect(self, text: str) -> str | None:
        """The kind of crisis the message signals ('suicide', 'self_harm', 'danger'), or None."""
        raw = normalise(text, limit=None)
        mapped = " ".join(apply_variants(tokens(raw), self.variants))
        for candidate in (mapped, raw):
            if self.pattern.search(candidate) is None:
                continue  # the common case: exclusions can only take a match away
            # Cut out what is clearly past or about others, so the rest is still checked:
            # "my brother took his life and now I want to die too" must still be caught.
            if self.exclude is not None:
                candidate = self.exclude.sub(" ", candidate)
            found = self.pattern.search(candidate)
            if found is not None and found.lastgroup is not None:
                return self.kinds[found.lastgroup]
        return None
