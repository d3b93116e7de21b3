"""Decide how to reply to a free-text message (pure): crisis first, then the FAQ."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.faq import FaqIndex
from bot.safety import CrisisDetector

# Thresholds on the matcher's score, chosen on tests/data/questions.yaml (see bench/faq.py):
# above CONFIDENT the best topic is answered outright; between UNSURE and CONFIDENT the best
# two or three are offered as buttons; below UNSURE the bot says it did not understand.
CONFIDENT = 0.33
CLEAR_MARGIN = 0.06  # ... unless the runner-up is this close, which makes it a suggestion
SURE_ANYWAY = 0.62  # ... but a score this high is answered even with a close runner-up
UNSURE = 0.2
SUGGEST_SHARE = 0.6  # a suggestion must score at least this share of the best

ReplyKind = Literal["crisis", "smalltalk", "answer", "suggest", "unknown"]


@dataclass(frozen=True)
class Reply:
    """The bot's decision about one message; rendering turns it into text and buttons."""

    kind: ReplyKind
    lang: str
    topic_id: str | None = None
    confidence: float = 0.0
    suggestions: tuple[str, ...] = ()
    crisis_kind: str | None = None
    crisis_tier: str = "crisis"  # or "check": a gentle question with the numbers, then the answer
    smalltalk: str | None = None  # "thanks" or "greeting"


def decide_reply(text: str, chat_lang: str, faq: FaqIndex, crisis: CrisisDetector) -> Reply:
    """Crisis language wins over everything; otherwise answer, suggest or admit not knowing.
    (A gentle "check" is the first of two replies; `replies` gives both.)"""
    return replies(text, chat_lang, faq, crisis)[0]


def replies(text: str, chat_lang: str, faq: FaqIndex, crisis: CrisisDetector) -> list[Reply]:
    """Every reply the message gets, in order: the crisis reply alone, or a gentle check and
    then the answer, or just the answer."""
    first = crisis_reply(text, chat_lang, faq, crisis)
    if first is not None and first.crisis_tier != "check":
        return [first]
    answer = faq_reply(text, chat_lang, faq)
    return [first, answer] if first is not None else [answer]


def crisis_reply(text: str, chat_lang: str, faq: FaqIndex, crisis: CrisisDetector) -> Reply | None:
    """The crisis reply if the message signals a crisis, else None. Always asked first.

    A reply of tier "check" is followed by the answer to the question; tier "crisis" is not."""
    found = crisis.assess(text)
    if found is None:
        return None
    lang = faq.detect_language(text, chat_lang)
    return Reply("crisis", lang, crisis_kind=found.kind, crisis_tier=found.tier)


def faq_reply(text: str, chat_lang: str, faq: FaqIndex) -> Reply:
    """For a message already checked for crisis language: the FAQ's best reply."""
    reading = faq.read(text, chat_lang)
    if reading.smalltalk is not None:
        return Reply("smalltalk", reading.lang, smalltalk=reading.smalltalk)
    match = faq.rank(reading)
    best = match.best
    if best is None or best.score < UNSURE:
        return Reply("unknown", match.lang, confidence=best.score if best else 0.0)
    runner_up = match.ranked[1].score if len(match.ranked) > 1 else 0.0
    if best.score >= CONFIDENT and (
        best.score - runner_up >= CLEAR_MARGIN or best.score >= SURE_ANYWAY
    ):
        return Reply("answer", match.lang, best.topic_id, best.score)
    suggestions = tuple(r.topic_id for r in match.ranked if r.score >= best.score * SUGGEST_SHARE)
    return Reply("suggest", match.lang, best.topic_id, best.score, suggestions)
