"""Speed of the question matcher: index build time and per-question decision latency.

    python -m bench.faq [--rounds N]     prints one final line:
    faq questions=N topics=T p50_us=X p95_us=Y build_ms=Z

build_ms is the median time to build FaqIndex from already-loaded content. p50/p95 are the
latency of the whole decision a free-text message gets (`bot.answering.decide_reply`: crisis
check, language detection, matching) over every question in tests/data/questions.yaml, repeated
for a number of rounds after one warm-up round. The warm-up round is the cold-cache case (the
matcher memoises word -> terms, including the fuzzy typo lookup); it is reported on its own line.
Target: p95 < 2000 us.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

from bench.quality import load_questions
from bot.answering import decide_reply
from bot.app import create_safety
from bot.content import load_content
from bot.faq import FaqIndex
from bot.safety import CrisisDetector

BUILDS = 5
ROUNDS = 20


def percentile(sorted_values: list[int], share: float) -> float:
    """Nearest-rank percentile of already-sorted values."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(share * len(sorted_values)) - 1))
    return float(sorted_values[rank])


def time_round(
    questions: list[tuple[str, str]], faq: FaqIndex, crisis: CrisisDetector
) -> list[int]:
    """Nanoseconds per decision, one per question."""
    out: list[int] = []
    clock = time.perf_counter_ns
    for text, lang in questions:
        start = clock()
        decide_reply(text, lang, faq, crisis)
        out.append(clock() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faq")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--builds", type=int, default=BUILDS)
    args = parser.parse_args()

    content = load_content()
    crisis = create_safety(content)
    questions = [(q["q"], q["lang"]) for q in load_questions()]

    build_ns: list[int] = []
    faq = FaqIndex(content)
    for _ in range(max(1, args.builds)):
        gc.collect()
        start = time.perf_counter_ns()
        faq = FaqIndex(content)
        build_ns.append(time.perf_counter_ns() - start)
    build_ms = statistics.median(build_ns) / 1e6

    gc.collect()
    cold = sorted(time_round(questions, faq, crisis))  # fresh index: empty word caches
    warm: list[int] = []
    for _ in range(max(1, args.rounds)):
        warm.extend(time_round(questions, faq, crisis))
    warm.sort()

    # A fresh index and a first pass over the questions, like the first hour after a restart.
    print(
        f"cold  (first pass, fresh index) p50_us={percentile(cold, 0.5) / 1e3:.0f}"
        f" p95_us={percentile(cold, 0.95) / 1e3:.0f} max_us={cold[-1] / 1e3:.0f}"
    )
    print(
        f"warm  ({args.rounds} rounds x {len(questions)})"
        f" p50_us={percentile(warm, 0.5) / 1e3:.0f} p95_us={percentile(warm, 0.95) / 1e3:.0f}"
        f" max_us={warm[-1] / 1e3:.0f}"
    )
    print(
        f"faq questions={len(questions)} topics={len(content.topics)}"
        f" p50_us={percentile(warm, 0.5) / 1e3:.0f} p95_us={percentile(warm, 0.95) / 1e3:.0f}"
        f" build_ms={build_ms:.1f}"
    )


if __name__ == "__main__":
    main()
