"""Which crisis outcomes a change to flows/safety.yaml changes, over every set and training file.

    python -m bench.regress OLD_SAFETY.yaml [--include-blind] [--skip SUBSTRING ...]

Compares the crisis tier (none, the gentle check, the crisis reply) that the old safety.yaml and
the working one give every message (crisis, near miss or question) of the studied sets
(bench.quality) and of bench/data/train. Each difference is printed as BETTER, WORSE or TIER
(caught either way, another tier), then one summary line. Both sides use the same trained
models, so the figures say what the patterns changed.

The sets that are still blind (bench.train_models.BLIND) are left out unless `--include-blind`
is given: printing their messages would show them before they are measured (a stop-23 lesson).
With `--include-blind` only their counts are printed, never their text.

    git show HEAD:flows/safety.yaml > /tmp/old.yaml
    python -m bench.regress /tmp/old.yaml
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import yaml

from bench.quality import SETS, load_items
from bench.train_models import BLIND, TRAIN
from bot.answers.crisis import Assessment
from bot.composition import create_readers
from bot.content import load_content


def set_files(include_blind: bool, skip: list[str]) -> list[tuple[Path, bool]]:
    """(File, is it still blind) for every set file and training file."""
    out: list[tuple[Path, bool]] = []
    for name, pair in SETS.items():
        blind = name in BLIND
        if blind and not include_blind:
            continue
        out += [(p, blind) for p in pair if p.exists()]
    out += [(p, False) for p in sorted(TRAIN.glob("*.yaml"))]
    return [(p, b) for p, b in out if not any(s in str(p) for s in skip)]


def tier(assessment: Assessment | None) -> str | None:
    return None if assessment is None else assessment.tier


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    if not args:
        print(__doc__)
        return 2
    include_blind = "--include-blind" in argv
    skip = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--skip"]
    old_path = Path(args[0])
    content = load_content()
    old = dataclasses.replace(content, safety=yaml.safe_load(old_path.read_text(encoding="utf-8")))
    _, new_reader = create_readers(content, None)
    _, old_reader = create_readers(old, None)
    counts = {"better": 0, "worse": 0, "tier": 0, "messages": 0}
    blind_counts = {"better": 0, "worse": 0, "tier": 0}
    for path, blind in set_files(include_blind, skip):
        for item in load_items(path):
            expect = str(item.get("expect") or "answer")  # a question: never the crisis reply
            counts["messages"] += 1
            before = tier(old_reader.assess(item["q"]))
            after = tier(new_reader.assess(item["q"]))
            if before == after:
                continue
            if (before is None) == (after is None):
                tag = "tier"
            elif (after is not None) == (expect == "crisis"):
                tag = "better"
            else:
                tag = "worse"
            if blind:
                blind_counts[tag] += 1
                continue
            counts[tag] += 1
            where = f"{path.parent.name}/{path.name}"
            print(f"{tag.upper():6} {expect:9} {before}->{after} [{where}] {item['q'][:200]}")
    print(
        f"regress messages={counts['messages']} better={counts['better']} "
        f"worse={counts['worse']} tier={counts['tier']}"
        + (
            f" blind_better={blind_counts['better']} blind_worse={blind_counts['worse']} "
            f"blind_tier={blind_counts['tier']}"
            if include_blind
            else ""
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
