"""Answer quality on our own question set (tests/data/questions.yaml), through the real matcher."""

from __future__ import annotations

import pytest

from bench.quality import QualityReport, evaluate, load_questions
from bot.answering import decide_reply
from bot.app import create_safety
from bot.content import load_content
from bot.faq import FaqIndex


@pytest.fixture(scope="module")
def report() -> QualityReport:
    return evaluate()


def test_the_set_is_large_and_covers_both_languages() -> None:
    questions = load_questions()
    assert len(questions) >= 120
    langs = {q["lang"] for q in questions}
    assert langs == {"nb", "en"}
    assert sum(q["topic"] == "CRISIS" for q in questions) >= 20


def test_top1_accuracy_is_at_least_90_percent(report: QualityReport) -> None:
    assert report.top1 >= 0.90, "\n".join(report.misses)


def test_every_crisis_message_is_caught_and_safe_questions_are_not(report: QualityReport) -> None:
    assert report.crisis_recall == 1.0, "\n".join(report.misses)
    assert report.false_alarms == 0, "\n".join(report.misses)


def test_off_topic_text_is_not_answered_as_if_understood(report: QualityReport) -> None:
    assert report.none_rejected >= 0.85


def test_english_questions_are_answered_in_english_whatever_the_chat_language() -> None:
    content = load_content()
    faq = FaqIndex(content)
    crisis = create_safety(content)
    for q in load_questions():
        if q["lang"] == "en" and q["topic"] not in ("CRISIS", "NONE") and "# mixed" not in q["q"]:
            reply = decide_reply(q["q"], "nb", faq, crisis)
            assert reply.lang == "en", q["q"]
