"""flows/: complete in both languages, consistent, and fit for Telegram's buttons and messages."""

from __future__ import annotations

import re
import shutil
import string
from pathlib import Path

import pytest
import yaml

from bot.chat.rendering import topic_answer
from bot.composition import create_safety
from bot.config import LANGUAGES, Config
from bot.content import (
    FLOWS_DIR,
    MAX_ANSWER_CHARS,
    MAX_TITLE_CHARS,
    Content,
    ContentError,
    load_content,
)

TELEGRAM_BUTTON_BYTES = 64  # callback_data limit


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.fixture
def flows_copy(tmp_path: Path) -> Path:
    """A private copy of flows/ to break on purpose."""
    target = tmp_path / "flows"
    shutil.copytree(FLOWS_DIR, target)
    return target


# --- UI strings ----------------------------------------------------------------------------------


def test_every_ui_key_exists_in_both_languages(content: Content) -> None:
    keys = {lang: set(content.ui[lang]) for lang in LANGUAGES}
    assert keys["nb"] == keys["en"]
    for lang in LANGUAGES:
        empty = [k for k, v in content.ui[lang].items() if not v.strip()]
        assert not empty, (lang, empty)


def test_ui_placeholders_match_between_languages(content: Content) -> None:
    for key in content.ui["nb"]:
        assert placeholders(content.ui["nb"][key]) == placeholders(content.ui["en"][key]), key


def test_ui_strings_are_valid_format_templates(content: Content) -> None:
    for lang in LANGUAGES:
        for template in content.ui[lang].values():
            names = placeholders(template)
            if names:
                template.format(**dict.fromkeys(names, "X"))  # raises on stray braces


def test_a_key_in_one_language_only_is_refused(flows_copy: Path) -> None:
    path = flows_copy / "en" / "ui.yaml"
    ui = yaml.safe_load(path.read_text(encoding="utf-8"))
    del ui["cancel"]["done"]
    path.write_text(yaml.safe_dump(ui, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_content(flows_copy)
    assert "en/ui.yaml: key cancel.done exists only in nb" in caught.value.problems


def test_a_topic_missing_in_one_language_is_refused(flows_copy: Path) -> None:
    for path in (flows_copy / "en").glob("faq_*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if "cost" in (data.get("topics") or {}):
            del data["topics"]["cost"]
            path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_content(flows_copy)
    assert "en/faq: cost: missing" in caught.value.problems


def test_a_bare_question_offering_an_unknown_topic_is_refused(flows_copy: Path) -> None:
    path = flows_copy / "lexicon.yaml"
    lexicon = yaml.safe_load(path.read_text(encoding="utf-8"))
    lexicon["bare_questions"]["hvor"] = ["where_groups", "no_such_topic"]
    path.write_text(yaml.safe_dump(lexicon, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_content(flows_copy)
    assert (
        "lexicon.yaml: bare_questions.hvor names unknown topic no_such_topic"
        in caught.value.problems
    )


def test_a_too_long_answer_and_unknown_related_topic_are_refused(flows_copy: Path) -> None:
    for path in (flows_copy / "nb").glob("faq_*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if "cost" in (data.get("topics") or {}):
            data["topics"]["cost"]["answer"] = "x" * (MAX_ANSWER_CHARS + 1)
            path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    topics_path = flows_copy / "topics.yaml"
    topics = yaml.safe_load(topics_path.read_text(encoding="utf-8"))
    topics["topics"][0]["related"] = ["no_such_topic"]
    topics_path.write_text(yaml.safe_dump(topics, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_content(flows_copy)
    first = topics["topics"][0]["id"]
    assert (
        f"nb/faq: cost.answer: expected 1-{MAX_ANSWER_CHARS} characters" in caught.value.problems
    )
    assert (
        f"topics.yaml: {first}.related names unknown topic no_such_topic" in caught.value.problems
    )


def test_a_broken_crisis_pattern_is_a_content_error(flows_copy: Path) -> None:
    # check-config only loads content; an uncompilable pattern must be caught there, not when
    # the bot starts (or worse, never).
    path = flows_copy / "safety.yaml"
    safety = yaml.safe_load(path.read_text(encoding="utf-8"))
    safety["patterns"]["nb"]["suicide"].append("(unclosed")
    path.write_text(yaml.safe_dump(safety, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_content(flows_copy)
    assert any("safety.yaml" in p for p in caught.value.problems), caught.value.problems


def test_a_form_of_two_lemmas_is_a_content_error(flows_copy: Path) -> None:
    path = flows_copy / "safety.yaml"
    safety = yaml.safe_load(path.read_text(encoding="utf-8"))
    safety["lemmas"]["nb"]["kutte"].append("slo")  # already a form of slå
    path.write_text(yaml.safe_dump(safety, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_content(flows_copy)
    assert any("'slo' is a form of both" in p for p in caught.value.problems)


def test_crisis_patterns_compile_and_catch_the_basics(content: Content) -> None:
    detector = create_safety(content)
    for lang in ("nb", "en"):
        assert set(content.safety["patterns"][lang]) >= {
            "suicide",
            "self_harm",
            "violence",
            "medical",
            "other_in_danger",
            "check",
        }
    assert detector.detect("jeg orker ikke mer") == "suicide"
    assert detector.detect("I want to kill myself") == "suicide"
    assert detector.detect("hva koster det") is None


# --- FAQ topics ----------------------------------------------------------------------------------


def test_there_are_at_least_40_topics_in_every_category(content: Content) -> None:
    assert len(content.topics) >= 40
    for category in content.categories:
        assert content.topics_in(category), category


def test_related_topics_exist_and_are_not_self(content: Content) -> None:
    for topic in content.topics.values():
        assert topic.related, topic.id
        for rid in topic.related:
            assert rid in content.topics, (topic.id, rid)
            assert rid != topic.id
        assert len(set(topic.related)) == len(topic.related), topic.id


def test_answers_are_present_and_short_enough(content: Content) -> None:
    for topic in content.topics.values():
        for lang in LANGUAGES:
            text = topic.text[lang]
            assert text.answer.strip(), (topic.id, lang)
            assert len(text.answer) < MAX_ANSWER_CHARS, (topic.id, lang, len(text.answer))
            assert len(text.examples) >= 3, (topic.id, lang)


def test_titles_fit_on_a_button(content: Content) -> None:
    for lang in LANGUAGES:
        titles = [t.text[lang].title for t in content.topics.values()]
        for title in titles:
            assert 0 < len(title) <= MAX_TITLE_CHARS <= 32, (lang, title)
        duplicates = {t for t in titles if titles.count(t) > 1}
        assert not duplicates, (lang, duplicates)


def test_callback_data_fits_telegram_limit(content: Content) -> None:
    for tid in content.topics:
        assert len(f"t:{tid}".encode()) <= TELEGRAM_BUTTON_BYTES
    for cat in content.categories:
        assert len(f"c:{cat}".encode()) <= TELEGRAM_BUTTON_BYTES


def test_category_titles_exist_in_both_languages(content: Content) -> None:
    for lang in LANGUAGES:
        for cat in content.categories:
            assert content.has(lang, f"faq.category.{cat}"), (lang, cat)


# --- content and config together -----------------------------------------------------------------


def test_every_configured_crisis_number_has_a_label(content: Content, config: Config) -> None:
    assert config.crisis_numbers
    for number in config.crisis_numbers:
        for lang in LANGUAGES:
            label = content.text(lang, f"crisis.number.{number.key}")
            assert label.strip(), (lang, number.key)


def test_regional_offices_are_filled_in_from_config(content: Content, config: Config) -> None:
    with_offices = [
        t.id for t in content.topics.values() if "{regional_offices}" in t.text["nb"].answer
    ]
    assert with_offices, "some answer lists the regional offices"
    for tid in with_offices:
        for lang in LANGUAGES:
            rendered = topic_answer(content, config, lang, tid).text
            assert "{regional_offices}" not in rendered
            for region in config.regions:
                assert region.office in rendered, (tid, lang, region.id)


def test_no_answer_has_an_unfilled_placeholder(content: Content, config: Config) -> None:
    for tid in content.topics:
        for lang in LANGUAGES:
            rendered = topic_answer(content, config, lang, tid).text
            assert not re.search(r"\{[a-z_]+\}", rendered), (tid, lang)


def test_crisis_topic_shows_the_configured_numbers(content: Content, config: Config) -> None:
    crisis_topics = [t.id for t in content.topics.values() if t.show_crisis_numbers]
    assert crisis_topics
    for tid in crisis_topics:
        for lang in LANGUAGES:
            rendered = topic_answer(content, config, lang, tid).text
            for number in config.crisis_numbers:
                assert number.number in rendered, (tid, lang)


def test_rendered_answers_fit_in_one_message(content: Content, config: Config) -> None:
    for tid in content.topics:
        for lang in LANGUAGES:
            assert len(topic_answer(content, config, lang, tid).text) <= 4096


def test_a_key_given_twice_is_refused(flows_copy: Path) -> None:
    """PyYAML keeps the last of two equal keys silently: a second `settled:` under
    safety.yaml's exclude.en dropped the first one's patterns (stop 29)."""
    path = flows_copy / "safety.yaml"
    text = path.read_text(encoding="utf-8")
    repeated = text.replace("\nexclude:\n  nb:\n", "\nexclude:\n  nb:\n    past: []\n", 1)
    assert repeated != text
    path.write_text(repeated, encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_content(flows_copy)
    assert any(
        p.startswith("safety.yaml: cannot read") and "given twice" in p
        for p in caught.value.problems
    )
