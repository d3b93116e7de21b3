"""The crisis detector: lemmas, joined words, typos, context, and one regex per kind."""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.answers.crisis import CHECK, KINDS, CrisisDetector, SafetyError, combine, expand
from bot.content import load_content

CONTENT = load_content()
DETECTOR = CrisisDetector.build(CONTENT.safety)


def kind(text: str) -> str | None:
    found = DETECTOR.assess(text)
    return None if found is None else (found.kind if found.is_crisis else CHECK)


# Each line: what a person might write, and the kind the bot must read in it. Written for the
# behaviours the detector promises (inflection, dialect, typos, joined words, indirect signals,
# someone else in danger); the measured figures come from bench.quality on blind sets.
CRISIS = [
    ("jeg vil dø", "suicide"),
    ("æ vil itj leve mer", "suicide"),
    ("eg vil ikkje leve lenger", "suicide"),
    ("e vil ta livet mitt", "suicide"),
    ("tenker på å ta selvmor", "suicide"),
    ("villdø", "suicide"),
    ("orkerikkemer", "suicide"),
    ("I want to kil myself", "suicide"),
    ("wanna kms", "suicide"),
    ("I may not be here by Christmas", "suicide"),
    ("how many pills does it take", "suicide"),
    ("jeg har samlet på piller", "suicide"),
    ("har skrevet avskjedsbrev", "suicide"),
    ("alle ville hatt det bedre uten meg", "suicide"),
    ("jeg kutta meg i natt", "self_harm"),
    ("skar meg igjen", "self_harm"),
    ("I cut myself last night", "self_harm"),
    ("mannen min slår meg", "violence"),
    ("pappa drikker og slår oss", "violence"),
    ("faren min e full og slår mæ", "violence"),
    ("my husband hits me", "violence"),
    ("someone is not breathing", "medical"),
    ("sønnen min har svelget en oppvasktablett", "medical"),
    ("my son swallowed something poisonous", "medical"),
    ("my friend says she will end her life tonight", "other_in_danger"),
    ("venninna mi sier hun skal ta livet sitt i kveld", "other_in_danger"),
]

NOT_CRISIS = [
    "hva koster det",
    "jeg dør av latter",
    "I'm dying of laughter",
    "this homework is killing me",
    "broren min tok livet sitt for ti år siden, finnes det grupper for etterlatte",
    "I'm a school nurse, what should I do if a pupil talks about suicide",
    "im not suicidal or anything, just really lonely. is this for me",
    "kan jeg kutte ut kaffe før møtet",
    "jobben tar livet av meg for tida, har dere grupper for utbrente",
]


@pytest.mark.parametrize(("text", "expected"), CRISIS)
def test_crisis_messages_get_their_kind(text: str, expected: str) -> None:
    assert kind(text) == expected, DETECTOR.explain(text) or DETECTOR.lemma_text(text)


@pytest.mark.parametrize("text", NOT_CRISIS)
def test_near_misses_are_left_alone(text: str) -> None:
    assert DETECTOR.assess(text) is None, DETECTOR.explain(text)


def test_a_past_clause_does_not_hide_a_present_one() -> None:
    text = "for ti år siden prøvde jeg å ta livet mitt, og nå vil jeg dø igjen"
    assert kind(text) == "suicide"
    assert kind("min bror tok livet sitt for mange år siden. nå vil jeg ikke leve lenger") == (
        "suicide"
    )


def test_current_suicidal_thoughts_with_a_question_get_the_gentle_check() -> None:
    assert kind("kan jeg bli med i gruppe hvis jeg har selvmordstanker") == CHECK


def test_the_most_urgent_kind_decides_and_all_are_kept() -> None:
    found = DETECTOR.assess("han slår meg og jeg vil dø")
    assert found is not None
    assert found.kind == "violence"
    assert found.kinds == ("violence", "suicide")


def test_empty_and_garbage_are_not_crises() -> None:
    for text in ("", None, "🙂🙂🙂", "x" * 5000, "\u0000\u200b"):
        assert DETECTOR.assess(text) is None


def test_a_crisis_at_the_end_of_a_long_message_is_still_read() -> None:
    text = "hei, jeg lurer på hvordan gruppene fungerer. " * 60 + "jeg vil ikke leve lenger"
    assert kind(text) == "suicide"


def test_explain_names_the_pattern() -> None:
    lines = DETECTOR.explain("jeg vil dø")
    assert lines
    assert lines[0].startswith("nb/suicide:")


def test_a_form_listed_under_two_lemmas_is_refused() -> None:
    safety = {"lemmas": {"nb": {"a": ["x"], "b": ["x"]}}, "patterns": {"nb": {"suicide": ["a"]}}}
    with pytest.raises(SafetyError):
        CrisisDetector.build(safety)


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(SafetyError):
        CrisisDetector.build({"patterns": {"nb": {"danger": ["a"]}}})


# --- the combined regex -----------------------------------------------------------------------

PATTERNS = {
    k: [expand(p) for p in ps]
    for k, ps in (CONTENT.safety["patterns"]["nb"] or {}).items()
    if k in (*KINDS, CHECK)
}
COMBINED, GROUPS = combine(PATTERNS)
ONE_BY_ONE = [(k, re.compile(p)) for k, ps in PATTERNS.items() for p in ps]
WORDS = sorted(
    {w for text, _ in CRISIS for w in text.lower().split()}
    | {w for text in NOT_CRISIS for w in text.lower().split()}
    | {"vil", "dø", "ikke", "meg", "livet", "ta", "slå", "han", "hun", "pille"}
)


def kinds_found_one_by_one(text: str) -> set[str]:
    return {k for k, p in ONE_BY_ONE if p.search(text)}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=12), st.text(max_size=20))
def test_any_text_gets_the_same_verdict_as_pattern_by_pattern(words: list[str], tail: str) -> None:
    text = " ".join(words) + tail
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


def test_safety_yaml_is_valid_yaml_with_both_languages() -> None:
    with open("flows/safety.yaml", encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    assert set(raw["patterns"]) == {"nb", "en"}


# --- the statistical layer (flows/crisis_model.yaml) ------------------------------------------

FULL = CrisisDetector.build(CONTENT.safety, CONTENT.crisis_model)


def test_the_lemma_model_is_shipped_and_loaded() -> None:
    assert FULL.model is not None
    assert 0.5 <= FULL.model.check < FULL.model.crisis < 1.0
    assert len(FULL.model.weights) > 1000


def test_the_lemma_model_reads_what_no_pattern_foresaw() -> None:
    text = "i keep thinking everyone would be happier if i was gone"
    assert DETECTOR.assess(text) is None  # no pattern for it
    found = FULL.assess(text)
    assert found is not None  # but its words are those of people in crisis


def test_the_lemma_model_leaves_ordinary_questions_alone() -> None:
    for text in (
        "hva koster det",
        "kan jeg ta med kaffe",
        "jeg dør av latter",
        "hvem leder gruppa",
    ):
        assert FULL.assess(text) is None, text


def test_a_broken_model_is_refused() -> None:
    with pytest.raises(SafetyError):
        CrisisDetector.build(CONTENT.safety, {"weights": {"a": "x"}, "bias": 0})


# Forms the detector reads since the blind4 study (own paraphrases, not the blind items): a
# threat named by another person's verb ("kill herself" is not past), "mye" read as "mange",
# word order in questions about means, goodbyes, bodies that hide marks, signs of a stroke.
MORE_CRISIS = [
    ("my brother says he is going to kill himself", "other_in_danger"),
    ("eg blir ikkje her så lenge", "suicide"),
    ("du kommer ikke til å høre fra meg etter i kveld", "suicide"),
    ("you will never hear from me again", "suicide"),
    ("I gave away all my things yesterday", "suicide"),
    ("hvor høyt skal man hoppe for å dø", "suicide"),
    ("har lagt fram våpenet", "suicide"),
    ("er drittlei av å leve", "suicide"),
    ("han tvang meg med makt", "violence"),
    ("ble tvunget til sex på fest", "violence"),
    ("har blåmerker jeg må gjemme", "violence"),
    ("i don't feel safe at home", "violence"),
    ("I hide the cuts I made", "self_harm"),
    ("min venn er blå rundt munnen", "medical"),
    ("mormor har brystsmerter", "medical"),
    ("munnviken til mamma henger", "medical"),
    ("blør masse og er gravid", "medical"),
    ("mora mi har demens og har gått seg bort", "other_in_danger"),
]
MORE_NEAR_MISSES = [
    "jeg blir ikke så lenge på møtet i dag",
    "gir bort alle klærne mine til Fretex, flytter",
    "hvis jeg forsvinner fra gruppa, er det greit?",
    "snakker utydelig engelsk, går det bra?",
    "this homework killed me",
    "drepte tomatplantene mine igjen",
    "selvmordsbomber i nyhetene",
    "jeg pleide å kutte meg, nå har jeg det bra",
    "tenker ikke på å ta livet mitt, bare lei av vinteren",
    "grå i ansiktet av trøtthet etter nattevakt",
    "jeg er lærer og tror en elev blir slått hjemme, hvem ringer jeg",
]


@pytest.mark.parametrize(("text", "expected"), MORE_CRISIS)
def test_more_crisis_forms_are_read(text: str, expected: str) -> None:
    assert kind(text) == expected, DETECTOR.lemma_text(text)


@pytest.mark.parametrize("text", MORE_NEAR_MISSES)
def test_more_near_misses_are_left_alone(text: str) -> None:
    assert kind(text) is None, DETECTOR.explain(text)


# Issue 9, blind5 round: mechanisms added for what that set showed (own sentences, not blind).
NEW_CRISIS = [
    ("vilkuttamegigjen", "self_harm"),  # joined words with one stray letter ("meg" typed "met")
    ("jeg er ikke her neste måned uansett", "suicide"),  # "not here next week ... anyway"
    ("æ e ferdig mæ alt", "suicide"),  # dialect "mæ" for "med"
    ("hvor lenge tar det å dø hvis man tar en overdose", "suicide"),  # time to die by a method
    ("how long does it take to die if you hang yourself", "suicide"),
    ("jeg har bestemt meg for å ta livet mitt", "suicide"),
    ("kollegaen min sier hun har bestemt seg for å dø", "other_in_danger"),
    ("my friend has decided to end her life", "other_in_danger"),
    ("morfar er slapp i ansiktet og får ikke fram ordene, snakker helt uklart", "medical"),
    ("datteren min hovner opp i halsen etter et vepsestikk", "medical"),
    ("my dad is having a heart attack", "medical"),
    ("dottera mi har ete nokre sovetablettar", "medical"),  # nynorsk, compound tablet word
    ("kompisen min od'a i natt", "medical"),
    ("jeg hører slag og skrik fra naboen", "violence"),
    ("cut deeper this time", "self_harm"),
    ("selvskadet igjen i kveld", "self_harm"),
]

NEW_NEAR_MISSES = [
    "jeg er ikke her neste uke fordi jeg er på ferie",
    "i serien jeg ser nå kveler morderen et offer",  # a story, even with "nå"
    "the movie had a scene where he overdoses",
    "strømregningen tar kvelertak på budsjettet",
    "jeg skal dø en gang som alle andre, tenker litt på det",
    "min venn har bestemt seg for å slutte i gruppa",
    "det er ingen vits å fortsette i gruppa hvis jeg ikke trives",
    "vi har mange barn, jeg vil ikke være til bry for dem",
    "my grandma died of cancer and I miss her",
    "my dad had a heart attack years ago",
]


@pytest.mark.parametrize(("text", "expected"), NEW_CRISIS)
def test_blind5_round_mechanisms(text: str, expected: str) -> None:
    assert kind(text) == expected, DETECTOR.explain(text)


@pytest.mark.parametrize("text", NEW_NEAR_MISSES)
def test_blind5_round_near_misses(text: str) -> None:
    assert kind(text) is None, DETECTOR.explain(text)


def test_a_story_clause_is_kept_when_it_speaks_of_the_writer() -> None:
    assert kind("filmen fikk meg til å tenke på å ta livet mitt") == "suicide"


def test_a_laughing_emoji_is_a_joke_context_for_the_model() -> None:
    full = CrisisDetector.build(CONTENT.safety, CONTENT.crisis_model)
    assert full.assess("skal drepe lillebror hvis han spiser opp sjokoladen igjen 😂") is None
    assert full.assess("har drept basilikumen min igjen 🙃") is None


def test_a_pattern_is_written_in_the_words_the_text_is_read_as() -> None:
    """The text a pattern runs on is lemma text ("living" reads "live", "cannot" reads "not"),
    so each literal word of a pattern is read as its lemma too (found after dev34: "life is
    not worth living" matched no pattern)."""
    from bot.answers.crisis import lemma_pattern

    lemmas = {"living": "live", "alive": "live", "cuts": "cut", "gonna": "going to"}
    assert lemma_pattern(r"\bworth (?:living|it)\b", lemmas) == r"\bworth (?:live|it)\b"
    assert lemma_pattern(r"\bgonna die\b", lemmas) == r"\bgoing\ to die\b"
    assert lemma_pattern(r"\bi {w}living\b", lemmas) == r"\bi {w}live\b"
    # not a word a quantifier, a class or an escape continues, nor inside a lookbehind
    for kept in (r"\bcuts?\b", r"\bcuts\w*", r"(?<!alive )\bme\b", r"(?:un)?alive", r"[living]"):
        assert lemma_pattern(kept, lemmas) == kept
    for message in ("life is not worth living", "i am tired of living", "so tired of being alive"):
        assert kind(message) is not None, message


def test_letters_spaced_out_or_held_are_read_as_the_word() -> None:
    """ "jeg vil d ø" and "jeg vvviiilll døøøø" (dev37) are "jeg vil dø"; letters that are each
    a word on their own are left alone ("æ e i byen": jeg er i byen)."""
    for message in ("jeg vil d ø", "i want to k i l l myself", "jeg vvviiilll døøøø"):
        assert kind(message) == "suicide", message
    for message in ("æ e i byen", "r u ok", "jeg er såå lei"):
        assert kind(message) is None, message


def test_blind32_round_forms_are_read() -> None:
    """Forms blind32 showed at its first sight (own paraphrases, not the blind items): a
    helpline number asked for in a hurry, life and I done with each other, a battery swallowed,
    a bare cry for help (the gentle check, then the help text)."""
    for message, expected in (
        ("need the crisis line number asap", "suicide"),
        ("livet og eg er ferdige med kvarandre", "suicide"),
        ("kva skjer om ein svælgjer eit batteri", "medical"),
    ):
        assert kind(message) == expected, DETECTOR.explain(message)
    for message in ("hjelp meg", "please help", "noen hjelp meg"):
        assert kind(message) == CHECK, message
    for message in ("hjelp", "help", "kan du hjelpe meg med å finne en gruppe"):
        assert DETECTOR.assess(message) is None, DETECTOR.explain(message)
