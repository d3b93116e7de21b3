"""Speed and memory of understanding a message: start-up, and per-message decision latency.

    python -m bench.faq [--rounds N]     prints one final line:
    faq messages=N topics=T startup_ms=S p95_unseen_ms=U p50_us=X p95_us=Y build_ms=Z rss_mb=M

startup_ms is loading flows/ and building the matcher and the crisis detector (what the bot
does before it answers anyone). The latency is the whole decision a free-text message gets
(`bot.answers.answering.replies`: crisis check, language, matching, two-question split): first over
the development set as a warm-up, then over the blind sets' messages, which the warm process
has never seen (p95_unseen_ms: new words miss the word caches, the realistic case), then the
same messages again for a number of rounds (p50/p95_us). rss_mb is the resident memory after
all of it. Targets: p95 < 20 ms, start-up < 10 s, RSS < 300 MB.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

from bench.quality import SETS, load_items
from bot.answers.answering import replies
from bot.answers.crisis import CrisisDetector
from bot.answers.faq_index import FaqIndex
from bot.composition import create_safety
from bot.content import load_content

BUILDS = 5
ROUNDS = 20


def percentile(sorted_values: list[int], share: float) -> float:
    """Nearest-rank percentile of already-sorted values."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(share * len(sorted_values)) - 1))
    return float(sorted_values[rank])


def rss_mb() -> float:
    """Resident memory of this process (Linux), in MB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def time_round(
    questions: list[tuple[str, str]], faq: FaqIndex, crisis: CrisisDetector
) -> list[int]:
    """Nanoseconds per decision, one per question."""
    out: list[int] = []
    clock = time.perf_counter_ns
    for text, lang in questions:
        start = clock()
        replies(text, lang, faq, crisis)
        out.append(clock() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faq")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--builds", type=int, default=BUILDS)
    args = parser.parse_args()

    start = time.perf_counter_ns()
    content = load_content()
    crisis = create_safety(content)
    FaqIndex(content)
    startup_ms = (time.perf_counter_ns() - start) / 1e6

    def messages(name: str) -> list[tuple[str, str]]:
        return [(i["q"], i.get("lang", "nb")) for path in SETS[name] for i in load_items(path)]

    development = messages("dev")
    questions = messages("blind1") + messages("blind2")

    build_ns: list[int] = []
    faq = FaqIndex(content)
    for _ in range(max(1, args.builds)):
        gc.collect()
        start = time.perf_counter_ns()
        faq = FaqIndex(content)
        build_ns.append(time.perf_counter_ns() - start)
    build_ms = statistics.median(build_ns) / 1e6

    gc.collect()
    time_round(development, faq, crisis)  # the process has answered other people before
    cold = sorted(time_round(questions, faq, crisis))  # messages it has never seen
    warm: list[int] = []
    for _ in range(max(1, args.rounds)):
        warm.extend(time_round(questions, faq, crisis))
    warm.sort()

    # A fresh index and a first pass over the questions, like the first hour after a restart.
    print(
        f"unseen (first pass, after a warm-up on other messages)"
        f" p50_us={percentile(cold, 0.5) / 1e3:.0f}"
        f" p95_us={percentile(cold, 0.95) / 1e3:.0f} max_us={cold[-1] / 1e3:.0f}"
    )
    print(
        f"warm  ({args.rounds} rounds x {len(questions)})"
        f" p50_us={percentile(warm, 0.5) / 1e3:.0f} p95_us={percentile(warm, 0.95) / 1e3:.0f}"
        f" max_us={warm[-1] / 1e3:.0f}"
    )
    print(
        f"faq messages={len(questions)} topics={len(content.topics)} startup_ms={startup_ms:.0f}"
        f" p95_unseen_ms={percentile(cold, 0.95) / 1e6:.2f}"
        f" p50_us={percentile(warm, 0.5) / 1e3:.0f} p95_us={percentile(warm, 0.95) / 1e3:.0f}"
        f" build_ms={build_ms:.1f} rss_mb={rss_mb():.0f}"
    )


if __name__ == "__main__":
    main()
