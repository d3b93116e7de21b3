"""Answer quality floors, through the real matcher and crisis detector.

These guard against regressions on the team's own sets and the development set. The figures
that count are bench.quality's on the blind sets, which no test asserts (a test would invite
tuning on them).
"""

from __future__ import annotations

from collections import Counter

import pytest

from bench.quality import SETS, evaluate_crisis, evaluate_questions, load_items, team_items
from bot.answers.answering import decide_reply
from bot.answers.crisis import CrisisDetector
from bot.answers.faq_index import FaqIndex
from bot.composition import create_safety
from bot.content import load_content

CONTENT = load_content()
FAQ = FaqIndex(CONTENT)
CRISIS = create_safety(CONTENT)


@pytest.fixture(scope="module")
def team() -> tuple[Counter[str], Counter[str]]:
    questions, crisis = team_items()
    return evaluate_questions(questions, FAQ, CRISIS)[0].counts, evaluate_crisis(
        crisis, CRISIS
    ).counts


@pytest.fixture(scope="module")
def dev() -> tuple[Counter[str], Counter[str]]:
    qpath, cpath = SETS["dev"]
    q = evaluate_questions(load_items(qpath), FAQ, CRISIS)[0].counts
    return q, evaluate_crisis(load_items(cpath), CRISIS).counts


def answerable(n: Counter[str]) -> int:
    return (
        sum(v for k, v in n.items() if k.startswith(("direct_", "suggest_", "crisis_num")))
        + (n["declined"])
    )


def test_team_set_top_topic_is_right_for_nine_in_ten(
    team: tuple[Counter[str], Counter[str]],
) -> None:
    n, _ = team
    assert (n["direct_right"] + n["suggest_right_first"]) / answerable(n) >= 0.90


def test_team_set_crisis_messages_are_all_caught_and_questions_left_alone(
    team: tuple[Counter[str], Counter[str]],
) -> None:
    _, c = team
    assert c["missed"] == 0
    assert c["false_alarm"] == 0


def test_dev_set_wrong_direct_answers_stay_rare(dev: tuple[Counter[str], Counter[str]]) -> None:
    n, _ = dev
    assert n["direct_wrong"] / answerable(n) <= 0.03
    assert n["direct_right"] / answerable(n) >= 0.75


def test_dev_set_off_topic_is_declined(dev: tuple[Counter[str], Counter[str]]) -> None:
    n, _ = dev
    offtopic = sum(v for k, v in n.items() if k.startswith("offtopic_"))
    assert n["offtopic_declined"] / offtopic >= 0.8
    assert n["offtopic_answered"] <= 2


def test_dev_set_crisis_recall_and_false_alarms(dev: tuple[Counter[str], Counter[str]]) -> None:
    _, c = dev
    assert c["caught"] / (c["caught"] + c["missed"]) >= 0.97
    assert c["false_alarm"] / (c["false_alarm"] + c["left_alone"]) <= 0.05


def test_english_questions_are_answered_in_english_whatever_the_chat_language() -> None:
    questions, _ = team_items()
    for q in questions:
        if q["lang"] == "en" and q["expect"] == "answer" and "# mixed" not in q["q"]:
            reply = decide_reply(q["q"], "nb", FAQ, CRISIS)
            assert reply.lang == "en", q["q"]


def test_price_of_unrelated_things_is_not_answered_as_free() -> None:
    for text in ("hva koster strøm i dag", "price of a flight to Tromsø", "hva koster bitcoin"):
        reply = decide_reply(text, "nb", FAQ, CRISIS)
        assert reply.topic_id != "cost" or reply.kind != "answer", text


def test_small_talk_is_small_talk() -> None:
    for text, kind in (
        ("tusen takk, det var nyttig", "thanks"),
        ("hello there", "greeting"),
        ("ha det bra, snakkes", "bye"),
    ):
        reply = decide_reply(text, "nb", FAQ, CRISIS)
        assert (reply.kind, reply.smalltalk) == ("smalltalk", kind), text


def test_a_question_word_alone_gets_the_likeliest_topics_as_buttons() -> None:
    for text, lang, first in (
        ("hvor?", "nb", "where_groups"),
        ("Kor", "nb", "where_groups"),
        ("hvem?", "nb", "who_for"),
        ("when", "en", "how_often"),
    ):
        reply = decide_reply(text, lang, FAQ, CRISIS)
        assert (reply.kind, reply.topic_id) == ("suggest", first), text
        assert len(reply.suggestions) == 3, text
        assert reply.lang == lang, text
    assert decide_reply("hvor er møtene?", "nb", FAQ, CRISIS).kind != "decline"


def test_two_questions_in_one_get_an_answer_and_the_other_as_a_button() -> None:
    reply = decide_reply("hva koster det, og må jeg ha henvisning fra legen?", "nb", FAQ, CRISIS)
    assert reply.kind == "answer"
    assert {reply.topic_id, reply.also} == {"cost", "referral"}


def test_detector_is_the_one_the_app_builds() -> None:
    assert isinstance(CRISIS, CrisisDetector)


def test_one_topic_far_ahead_of_every_other_is_answered_below_the_usual_probability() -> None:
    from bot.answers.answering import _decide_trained
    from bot.answers.faq_index import Match, Ranked

    ahead = Match("nb", (Ranked("cost", 0.28), Ranked("age", 0.1)), offtopic=0.05, trained=True)
    assert _decide_trained(ahead).kind == "answer"
    close = Match("nb", (Ranked("cost", 0.28), Ranked("age", 0.2)), offtopic=0.05, trained=True)
    assert _decide_trained(close).kind == "suggest"
    declined_near = Match("nb", (Ranked("cost", 0.28), Ranked("age", 0.05)), 0.2, trained=True)
    assert _decide_trained(declined_near).kind == "suggest"


def test_in_a_long_story_only_the_sentences_that_ask_are_questions() -> None:
    from bot.answers.answering import _question_parts

    story = (
        "Jeg er 52 år og jobber som snekker i Alta. Kona gikk fra meg i fjor, og siden da har "
        "jeg mest sittet hjemme. Kompisene mine er gode folk, men vi snakker ikke om sånt. "
        "Må man være psykisk syk for å gå der, eller er det for vanlige karer også?"
    )
    parts = _question_parts(story, long=True)
    assert parts
    assert all("52 år" not in p for p in parts)
    assert len(_question_parts("hva koster det, og må jeg ha henvisning fra legen?")) == 2
