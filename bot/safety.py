"""Crisis detection (pure). Runs before any other matching on every message."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.textnorm import apply_variants, normalise, tokens


@dataclass(frozen=True)
class CrisisDetector:
    """Compiled crisis patterns from flows/safety.yaml."""

    pattern: re.Pattern[str]  # one alternation, a named group per kind: one search per text
    exclude: re.Pattern[str] | None
    variants: Mapping[str, str]

    @classmethod
    def build(
        cls,
        patterns: Mapping[str, Sequence[str]],
        exclude: Sequence[str],
        variants: Mapping[str, str],
    ) -> CrisisDetector:
        kinds = []
        for kind, ps in patterns.items():
            if ps:
                alternatives = "|".join(f"(?:{p})" for p in ps)
                kinds.append(f"(?P<{kind}>{alternatives})")
        combined = re.compile("|".join(kinds) or r"(?!x)x")
        excl = re.compile("|".join(f"(?:{p})" for p in exclude)) if exclude else None
        return cls(combined, excl, dict(variants))

    def detect(self, text: str) -> str | None:
        """The kind of crisis the message signals ('suicide', 'self_harm', 'danger'), or None."""
        raw = normalise(text, limit=None)
        mapped = " ".join(apply_variants(tokens(raw), self.variants))
        for candidate in (mapped, raw):
            # Cut out what is clearly past or about others, so the rest is still checked:
            # "my brother took his life and now I want to die too" must still be caught.
            if self.exclude is not None:
                candidate = self.exclude.sub(" ", candidate)
            found = self.pattern.search(candidate)
            if found is not None:
                return found.lastgroup
        return None
