"""The one place lookup (bot.places) answers exactly as the five lookups it replaced.

The `_old_*` functions are those lookups as they were (bot/config.py, bot/interest/rules.py,
bot/roles/role_links.py, bot/poster/pdf.py), copied to compare answers over every name, alias,
code and region of config.yaml and typed variants of them.
"""

from __future__ import annotations

from dataclasses import replace

from rapidfuzz import fuzz, process

from bot.config import Config, Municipality, Region
from bot.places import Places


def _old_named(config: Config, name: str) -> Municipality | None:
    return next((m for m in config.municipalities if m.name == name), None)


def _old_by_code(config: Config, code: str) -> Municipality | None:
    return next((m for m in config.municipalities if m.code == code), None)


def _old_region(config: Config, region_id: str) -> Region | None:
    return next((r for r in config.regions if r.id == region_id), None)


def _old_exact(config: Config, typed: str) -> Municipality | None:
    text = " ".join(typed.split()).casefold()
    for m in config.municipalities:
        if text in (label.casefold() for label in (m.name, *m.aliases)):
            return m
    return None


def _old_match(config: Config, typed: str) -> list[Municipality]:
    text = typed.strip()[:60]
    if len(text) < 2:
        return []
    choices: dict[str, Municipality] = {}
    for m in config.municipalities:
        for label in (m.name, *m.aliases):
            choices[label.casefold()] = m
    hits = process.extract(
        text.casefold(), list(choices), scorer=fuzz.WRatio, limit=10, score_cutoff=70.0
    )
    found: list[Municipality] = []
    for label, _score, _idx in hits:
        m = choices[label]
        if m not in found:
            found.append(m)
    return found[:3]


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _old_find(config: Config, text: str) -> Municipality | None:
    wanted = _fold(text)
    for match in (
        lambda m: _fold(m.name) == wanted,
        lambda m: m.code == wanted,
        lambda m: wanted in (_fold(a) for a in m.aliases),
    ):
        found = [m for m in config.municipalities if match(m)]
        if len(found) == 1:
            return found[0]
    return None


def _old_find_region(config: Config, text: str) -> Region | None:
    wanted = _fold(text)
    return next((r for r in config.regions if wanted in (r.id.casefold(), _fold(r.name))), None)


def _old_poster(config: Config, name_or_code: str) -> Municipality | None:
    wanted = name_or_code.strip().casefold()
    return next((m for m in config.municipalities if wanted in (m.name.casefold(), m.code)), None)


def _variants(word: str) -> list[str]:
    """What people type for a name: cases, spaces, a typo or two, cut short."""
    found = [word, word.lower(), word.upper(), word.title(), f"  {word} ", word.replace(" ", "  ")]
    if len(word) > 3:
        found += [word[:-1], word[1:], word[:3], word[0] + word[2:], word + "e"]
        found.append(word[:2] + word[3] + word[2] + word[4:] if len(word) > 4 else word)
    return found


def _typed_texts(config: Config) -> list[str]:
    texts = ["", " ", "x", "ab", "kommune", "Oslo kommune", "Trondheim", "ingen", "nord"]
    for m in config.municipalities:
        for word in (m.name, m.code, *m.aliases):
            texts += _variants(word)
    for r in config.regions:
        texts += _variants(r.id) + _variants(r.name)
    return texts


def _check(config: Config) -> int:
    places = Places(config)
    compared = 0
    for text in _typed_texts(config):
        assert places.municipality_named(text) == _old_named(config, text), text
        assert places.municipality_by_code(text) == _old_by_code(config, text), text
        assert places.region(text) == _old_region(config, text), text
        assert places.typed(text) == _old_exact(config, text), text
        assert places.near(text) == _old_match(config, text), text
        assert places.find(text) == _old_find(config, text), text
        assert places.find_region(text) == _old_find_region(config, text), text
        assert places.by_name_or_code(text) == _old_poster(config, text), text
        compared += 1
    return compared


def test_places_answer_as_the_old_lookups(config: Config) -> None:
    assert _check(config) > 300


def test_places_answer_as_the_old_lookups_when_names_are_shared(config: Config) -> None:
    """An alias shared by two municipalities, a name that is another's code: the same
    winner as before (the first in config order, or the last for near matches)."""
    first, second, *_ = config.regions[0].municipalities
    shared = replace(second, aliases=(*second.aliases, first.name.upper(), "Felles"))
    other = replace(first, aliases=(*first.aliases, "felles"))
    region = replace(
        config.regions[0],
        municipalities=(other, shared, *config.regions[0].municipalities[2:]),
    )
    changed = replace(config, regions=(region, *config.regions[1:]))
    assert _check(changed) > 300


def test_config_lookups_go_through_places(config: Config) -> None:
    assert config.places is config.places  # built once
    for m in config.municipalities:
        assert config.municipality_named(m.name) is m
        assert config.municipality_by_code(m.code) is m
    for r in config.regions:
        assert config.region(r.id) is r
