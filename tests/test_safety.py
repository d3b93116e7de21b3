"""The crisis detector: its one combined regex finds exactly what the patterns one by one find."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.quality import load_questions
from bot.content import load_content
from bot.safety import combine
from bot.textnorm import normalise

CONTENT = load_content()
PATTERNS = {kind: ps for kind, ps in CONTENT.crisis_patterns.items() if ps}
COMBINED, KINDS = combine(PATTERNS)
ONE_BY_ONE = [(kind, re.compile(p)) for kind, ps in PATTERNS.items() for p in ps]
WORDS = sorted({w for p in (q["q"] for q in load_questions()) for w in normalise(p).split()})


def kinds_found_one_by_one(text: str) -> set[str]:
    return {kind for kind, p in ONE_BY_ONE if p.search(text)}


def test_every_kind_has_a_group_and_nothing_else_does() -> None:
    assert set(KINDS.values()) == set(PATTERNS)


def test_the_question_set_gets_the_same_verdict_as_pattern_by_pattern() -> None:
    for question in load_questions():
        text = normalise(question["q"], limit=None)
        found = COMBINED.search(text)
        expected = kinds_found_one_by_one(text)
        assert (found is not None) == bool(expected), question["q"]
        if found is not None and found.lastgroup is not None:
            assert KINDS[found.lastgroup] in expected, question["q"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=12), st.text(max_size=20))
def test_any_text_gets_the_same_verdict_as_pattern_by_pattern(words: list[str], tail: str) -> None:
    text = normalise(" ".join(words) + tail, limit=None)
    assert (COMBINED.search(text) is not None) == bool(kinds_found_one_by_one(text))


def kind_found(pattern: re.Pattern[str], kinds: dict[str, str], text: str) -> str | None:
    found = pattern.search(text)
    return kinds[found.lastgroup] if found is not None and found.lastgroup is not None else None


def test_word_start_patterns_need_a_word_start_and_the_others_do_not() -> None:
    pattern, kinds = combine({"a": [r"\bkutte meg", "selvmord"], "b": [r"\bbrystsmerter"]})
    assert kind_found(pattern, kinds, "tanker om sjølv-selvmordet") == "a"
    assert kind_found(pattern, kinds, "jeg kutte meg") == "a"
    assert kind_found(pattern, kinds, "akutte meg") is None
    assert kind_found(pattern, kinds, "har brystsmerter nå") == "b"


def test_no_patterns_never_match() -> None:
    pattern, kinds = combine({})
    assert kinds == {}
    assert pattern.search("selvmord") is None
