"""The one place lookup: from what a button, a link, a command or a person names to config.yaml's
municipalities and regions (pure: no Telegram, no storage).

Built once per Config (`config.places`) with an index for each way a place is named:
- `municipality_named`: the exact config spelling (what registrations, roles and meetings keep);
- `municipality_by_code`: the deep-link code (button data, poster links);
- `region`: the region id;
- `typed`: a name or alias exactly as typed, case and spaces aside (/interest's place step);
- `near`: the closest names and aliases to a typed one, typos allowed (never picks one silently);
- `find` / `find_region`: a name, code or alias / a region id or name, as an admin types it in
  /invite (each way must name exactly one place);
- `by_name_or_code`: a config name in any case or a code, as the `poster` command takes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

if TYPE_CHECKING:
    from bot.config import Config, Municipality, Region

MATCH_CUTOFF = 70.0  # rapidfuzz WRatio a typed name must reach to be offered
MAX_MATCHES = 3
MAX_TYPED_CHARS = 60  # of a typed name compared at all


def fold(text: str) -> str:
    """Case and runs of spaces aside: "  nord  Aurdal " -> "nord aurdal"."""
    return " ".join(text.split()).casefold()


class Places:
    """config.yaml's places, indexed every way they are named."""

    def __init__(self, config: Config) -> None:
        self.regions: tuple[Region, ...] = config.regions
        self.municipalities: tuple[Municipality, ...] = tuple(
            m for r in config.regions for m in r.municipalities
        )
        munis = self.municipalities
        self._by_name = {m.name: m for m in reversed(munis)}  # the first wins, as in config
        self._by_code = {m.code: m for m in reversed(munis)}
        self._regions = {r.id: r for r in reversed(config.regions)}
        # Typed names: every name and alias, case folded; the first municipality in config
        # order that has it wins.
        self._typed: dict[str, Municipality] = {}
        for m in munis:
            for label in (m.name, *m.aliases):
                self._typed.setdefault(label.casefold(), m)
        # Near names: the same labels, a later municipality winning a shared one (as always).
        self._near = {label.casefold(): m for m in munis for label in (m.name, *m.aliases)}
        self._near_labels = list(self._near)

    def municipality_named(self, name: str) -> Municipality | None:
        """The municipality called `name` (exact config spelling), if any."""
        return self._by_name.get(name)

    def municipality_by_code(self, code: str) -> Municipality | None:
        """The municipality whose deep-link code is `code`, if any."""
        return self._by_code.get(code)

    def region(self, region_id: str) -> Region | None:
        return self._regions.get(region_id)

    def typed(self, text: str) -> Municipality | None:
        """The municipality whose name or alias is exactly what was typed (case and spaces
        aside)."""
        return self._typed.get(fold(text))

    def near(self, text: str) -> list[Municipality]:
        """The closest municipalities to what was typed (names and aliases, typos allowed),
        best first; empty when nothing is close."""
        wanted = text.strip()[:MAX_TYPED_CHARS]
        if len(wanted) < 2:
            return []
        hits = process.extract(
            wanted.casefold(),
            self._near_labels,
            scorer=fuzz.WRatio,
            limit=10,
            score_cutoff=MATCH_CUTOFF,
        )
        found: list[Municipality] = []
        for label, _score, _idx in hits:
            m = self._near[label]
            if m not in found:
                found.append(m)
        return found[:MAX_MATCHES]

    def find(self, text: str) -> Municipality | None:
        """The municipality by name, code or alias, ignoring case ('lyngen' -> Lyngen); each
        way in turn, taken only when it names exactly one."""
        wanted = fold(text)
        ways: tuple[Callable[[Municipality], bool], ...] = (
            lambda m: fold(m.name) == wanted,
            lambda m: m.code == wanted,
            lambda m: wanted in (fold(a) for a in m.aliases),
        )
        for match in ways:
            found = [m for m in self.municipalities if match(m)]
            if len(found) == 1:
                return found[0]
        return None

    def find_region(self, text: str) -> Region | None:
        """The region by id or name, ignoring case."""
        wanted = fold(text)
        return next((r for r in self.regions if wanted in (r.id.casefold(), fold(r.name))), None)

    def by_name_or_code(self, text: str) -> Municipality | None:
        """A municipality by its config name (any case) or its deep-link code."""
        wanted = text.strip().casefold()
        return next(
            (m for m in self.municipalities if wanted in (m.name.casefold(), m.code)), None
        )
