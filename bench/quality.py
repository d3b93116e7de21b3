"""Answer quality on tests/data/questions.yaml: top-1 accuracy, crisis recall, false alarms.

python -m bench.quality [-v]     prints one final line:
quality questions=N top1=P top3=P crisis_recall=R false_alarms=F none_rejected=P
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.answering import decide_reply
from bot.app import create_safety
from bot.content import Content, load_content
from bot.faq import FaqIndex

QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "data" / "questions.yaml"
# Written later, by someone who saw neither the FAQ phrasings nor the first set: `--holdout`
# measures how well the matcher generalises beyond what its content was tuned on.
HOLDOUT = Path(__file__).resolve().parent / "data" / "holdout.yaml"


@dataclass
class QualityReport:
    questions: int
    top1: float
    top3: float
    crisis_recall: float
    false_alarms: int
    none_rejected: float
    misses: list[str]


def load_questions(path: Path = QUESTIONS) -> list[dict[str, str]]:
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["questions"])


def evaluate(
    content: Content | None = None, faq: FaqIndex | None = None, path: Path = QUESTIONS
) -> QualityReport:
    content = content or load_content()
    faq = faq or FaqIndex(content)
    crisis = create_safety(content)
    items = load_questions(path)
    topical = [q for q in items if q["topic"] not in ("CRISIS", "NONE")]
    top1 = top3 = 0
    misses: list[str] = []
    for q in topical:
        match = faq.match(q["q"], q["lang"])
        ids = [r.topic_id for r in match.ranked]
        top1 += bool(ids[:1] == [q["topic"]])
        top3 += q["topic"] in ids[:3]
        if ids[:1] != [q["topic"]]:
            misses.append(f"{q['topic']:>24} <- {ids[:3]} : {q['q']}")
    crisis_items = [q for q in items if q["topic"] == "CRISIS"]
    caught = sum(crisis.detect(q["q"]) is not None for q in crisis_items)
    alarms = [q for q in items if q["topic"] != "CRISIS" and crisis.detect(q["q"])]
    misses += [f"{'FALSE ALARM':>24} : {q['q']}" for q in alarms]
    misses += [
        f"{'MISSED CRISIS':>24} : {q['q']}" for q in crisis_items if not crisis.detect(q["q"])
    ]
    none_items = [q for q in items if q["topic"] == "NONE"]
    rejected = sum(
        decide_reply(q["q"], q["lang"], faq, crisis).kind != "answer" for q in none_items
    )
    return QualityReport(
        questions=len(items),
        top1=top1 / len(topical),
        top3=top3 / len(topical),
        crisis_recall=caught / len(crisis_items) if crisis_items else 1.0,
        false_alarms=len(alarms),
        none_rejected=rejected / len(none_items) if none_items else 1.0,
        misses=misses,
    )


def main() -> None:
    report = evaluate(path=HOLDOUT if "--holdout" in sys.argv else QUESTIONS)
    if "-v" in sys.argv:
        print("\n".join(report.misses))
    print(
        f"quality questions={report.questions} top1={report.top1:.3f} top3={report.top3:.3f}"
        f" crisis_recall={report.crisis_recall:.3f} false_alarms={report.false_alarms}"
        f" none_rejected={report.none_rejected:.3f}"
    )


if __name__ == "__main__":
    main()
