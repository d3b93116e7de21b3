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
    smalltalk: str | None = None  # "thanks" or "greeting"


def decide_reply(text: str, chat_lang: str, faq: FaqIndex, crisis: CrisisDetector) -> Reply:
    """Crisis language wins over everything; otherwise answer, suggest or admit not knowing."""
    return crisis_reply(text, chat_lang, faq, crisis) or faq_reply(text, chat_lang, faq)


def crisis_reply(text: str, chat_lang: str, faq: FaqIndex, crisis: CrisisDetector) -> Reply | None:
    """The crisis reply if the message signals a crisis, else None. Always asked first."""
    crisis_kind = crisis.detect(text)
    if crisis_kind is None:
        return None
    return Reply("crisis", faq.detect_language(text, chat_lang), crisis_kind=crisis_kind)


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
