"""Choose the answering thresholds on the development set (never on a blind set).

    python -m bench.calibrate               TF-IDF thresholds, on the development set
    python -m bench.calibrate --trained [SET ...]
                                            the trained model's thresholds, by cross-validation:
                                            each studied set (or those named) answered by a
                                            model trained without it (bench/train_models.py)

For every development question it records the matcher's scores once, then tries each
combination of thresholds and prints the best few by what a person sees: direct right answers
count +1, wrong direct answers -4 (a confident wrong answer is far worse than an honest
"is it one of these?"), and declining a question the content can answer -0.5.
"""

from __future__ import annotations

import functools
import itertools
import sys
from typing import Any

from bench.quality import SETS, load_items
from bot.answers import answering
from bot.answers.answering import faq_reply
from bot.answers.faq_index import FaqIndex
from bot.content import load_content

GRID = {
    "CONFIDENT": [0.25, 0.28, 0.3, 0.33, 0.36, 0.4],
    "CLEAR_MARGIN": [0.0, 0.02, 0.04, 0.06, 0.08, 0.1],
    "SURE_ANYWAY": [0.45, 0.5, 0.55, 0.62, 0.7],
    "UNANCHORED_CONFIDENT": [0.35, 0.45, 0.55],
}


def score(items: list[dict[str, Any]], faq: FaqIndex) -> tuple[float, int, int, int]:
    right = wrong = declined = 0
    for item in items:
        reply = faq_reply(item["q"], item["lang"], faq)
        ok = set(item.get("topics") or [item.get("topic")]) | set(item.get("alt") or ())
        if reply.kind == "answer":
            if reply.topic_id in ok:
                right += 1
            else:
                wrong += 1
        elif reply.kind == "decline":
            declined += 1
    return right - 4 * wrong - 0.5 * declined, right, wrong, declined


TRAINED_GRID = {
    "TRAINED_ANSWER": [0.35, 0.45, 0.5, 0.55, 0.6, 0.7],
    "TRAINED_SUGGEST": [0.05, 0.1],
    "TRAINED_CLEAR": [0.1, 0.15, 0.2, 0.25],
    # 1.67 (1 / SUGGEST_SHARE): every suggestion with a single button becomes an answer
    "TRAINED_CLEAR_RATIO": [1.67, 2.0, 3.0, 4.0, 5.0],
}


def trained_score(items: list[dict[str, Any]], faq: FaqIndex) -> tuple[float, ...]:
    """As `score`, and off-topic questions: declined +1, answered -2."""
    right = wrong = declined = off_declined = off_answered = 0
    for item in items:
        reply = faq_reply(item["q"], item.get("lang", "nb"), faq)
        if item["expect"] == "decline":
            off_declined += reply.kind in ("decline", "unknown")
            off_answered += reply.kind == "answer"
            continue
        ok = {item.get("topic"), *(item.get("alt") or ())}
        if reply.kind == "answer":
            right += reply.topic_id in ok
            wrong += reply.topic_id not in ok
        elif reply.kind in ("decline", "unknown"):
            declined += 1
    total = right - 4 * wrong - 0.5 * declined + off_declined - 2 * off_answered
    return total, right, wrong, declined, off_declined, off_answered


def trained(picked: list[str]) -> None:
    from bench.train_models import STUDIED, Readers, all_items, train_topics

    content = load_content()
    readers = Readers(content)
    folds = []
    for name in (n for n in picked or STUDIED if n in STUDIED and load_items(SETS[n][0])):
        model = train_topics(all_items(content, leave_out=name), content, readers)
        faq = FaqIndex(content, models={"topics": model})
        faq.rank = functools.cache(faq.rank)  # type: ignore[method-assign]
        faq.read = functools.cache(faq.read)  # type: ignore[method-assign]
        items = [
            i
            for i in load_items(SETS[name][0])
            if i["expect"] == "decline"
            or (i["expect"] == "answer" and i.get("topic") in content.topics)
        ]
        folds.append((faq, items))
        print(f"fold {name}: {len(items)} questions", flush=True)
    keys = list(TRAINED_GRID)
    original = {k: getattr(answering, k) for k in keys}
    results = []
    for values in itertools.product(*(TRAINED_GRID[k] for k in keys)):
        for k, v in zip(keys, values, strict=True):
            setattr(answering, k, v)
        sums = [sum(x) for x in zip(*(trained_score(i, f) for f, i in folds), strict=True)]
        results.append((tuple(sums), values))
    for k, v in original.items():
        setattr(answering, k, v)
    results.sort(key=lambda r: -r[0][0])
    n = sum(len(i) for _f, i in folds)
    print(f"{n} held-out questions; current {original}")
    now = tuple(original[k] for k in keys)
    for (total, right, wrong, declined, off_d, off_a), values in [
        *[r for r in results if r[1] == now],
        *results[:10],
    ]:
        print(
            f"score={total:.1f} right={right} wrong={wrong} declined={declined}"
            f" offtopic_declined={off_d} offtopic_answered={off_a} "
            + " ".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))
        )


def main() -> None:
    if "--trained" in sys.argv:
        trained([a for a in sys.argv[1:] if not a.startswith("--")])
        return
    content = load_content()
    faq = FaqIndex(content)
    # Rankings do not depend on the thresholds: compute each once.
    faq.rank = functools.cache(faq.rank)  # type: ignore[method-assign]
    faq.read = functools.cache(faq.read)  # type: ignore[method-assign]
    items = [
        i
        for i in load_items(SETS["dev"][0])
        if i["expect"] == "answer" and i.get("topic") not in ("other", "greeting")
    ]
    results = []
    keys = list(GRID)
    original = {k: getattr(answering, k) for k in keys}
    for values in itertools.product(*(GRID[k] for k in keys)):
        for k, v in zip(keys, values, strict=True):
            setattr(answering, k, v)
        results.append((score(items, faq), values))
    for k, v in original.items():
        setattr(answering, k, v)
    results.sort(key=lambda r: -r[0][0])
    print(f"{len(items)} answerable development questions; current {original}")
    for (total, right, wrong, declined), values in results[:8]:
        print(
            f"score={total:.1f} right={right} wrong={wrong} declined={declined} "
            + " ".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))
        )


if __name__ == "__main__":
    main()
