"""What a person sees, on question sets nobody tuned the content on.

    python -m bench.quality [--set dev|blind1|...|blind37|team|all] [--unseen] [--tfidf] [-v]

`--unseen` keeps only the messages that appear, word for word, in no other set, training set
or content phrasing (short ones such as "pris?" recur everywhere); `--tfidf` measures the bot
without its trained models (bot/answers/text_model.py), as it runs when they cannot be read.

Each set is two files: questions (labelled with the outcome a person should see: a direct answer
on a topic, or a polite decline) and crisis messages (labelled crisis or near miss). Outcomes
are counted as the person experiences them, through the same decision the Telegram handler
makes (`bot.answers.answering.replies`):

- questions the content can answer: direct and right, direct and wrong, suggestions with the
  right topic first, suggestions with it further down, suggestions without it, "I can only
  answer questions about self-help groups", and crisis numbers shown (a false alarm here);
- off-topic questions: declined, suggestions, answered anyway;
- asking for someone else: handled (a direct, right answer);
- crisis messages: numbers shown (recall), per kind, for explicit and indirect ones and per
  language; near misses: numbers shown (false alarms).

The sets: `dev` (bench/data/dev, used for tuning); `blind1` to `blind37` (bench/data/blind*),
each written without seeing the content and committed before anything was measured on it; each
one's first-sight figures are in its FAILURES.md, after which its failures were studied and it
became training data. The newest (bench.train_models.BLIND) is the honest figure; `team` (the
older sets written next to the content). The final line of each set is one figure line.
"""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.answers.answering import ON_BEHALF, Reply, replies
from bot.answers.crisis import CrisisDetector
from bot.answers.faq_index import FaqIndex
from bot.answers.text_model import LinearModel
from bot.composition import create_readers
from bot.content import load_content
from bot.textnorm import normalise, tokens

DATA = Path(__file__).resolve().parent / "data"
SETS = {
    "dev": (DATA / "dev" / "questions_dev.yaml", DATA / "dev" / "crisis_dev.yaml"),
    "blind1": (DATA / "blind" / "questions_blind1.yaml", DATA / "blind" / "crisis_blind1.yaml"),
    "blind2": (DATA / "blind2" / "questions_blind2.yaml", DATA / "blind2" / "crisis_blind2.yaml"),
    "blind3": (DATA / "blind3" / "questions_blind3.yaml", DATA / "blind3" / "crisis_blind3.yaml"),
    "blind4": (DATA / "blind4" / "questions_blind4.yaml", DATA / "blind4" / "crisis_blind4.yaml"),
    "blind5": (DATA / "blind5" / "questions_blind5.yaml", DATA / "blind5" / "crisis_blind5.yaml"),
    "blind6": (DATA / "blind6" / "questions_blind6.yaml", DATA / "blind6" / "crisis_blind6.yaml"),
    "blind7": (DATA / "blind7" / "questions_blind7.yaml", DATA / "blind7" / "crisis_blind7.yaml"),
    "blind8": (DATA / "blind8" / "questions_blind8.yaml", DATA / "blind8" / "crisis_blind8.yaml"),
    "blind9": (DATA / "blind9" / "questions_blind9.yaml", DATA / "blind9" / "crisis_blind9.yaml"),
    "blind10": (
        DATA / "blind10" / "questions_blind10.yaml",
        DATA / "blind10" / "crisis_blind10.yaml",
    ),
    "blind11": (
        DATA / "blind11" / "questions_blind11.yaml",
        DATA / "blind11" / "crisis_blind11.yaml",
    ),
    "blind12": (
        DATA / "blind12" / "questions_blind12.yaml",
        DATA / "blind12" / "crisis_blind12.yaml",
    ),
    "blind13": (
        DATA / "blind13" / "questions_blind13.yaml",
        DATA / "blind13" / "crisis_blind13.yaml",
    ),
    "blind14": (
        DATA / "blind14" / "questions_blind14.yaml",
        DATA / "blind14" / "crisis_blind14.yaml",
    ),
    "blind15": (
        DATA / "blind15" / "questions_blind15.yaml",
        DATA / "blind15" / "crisis_blind15.yaml",
    ),
    "blind16": (
        DATA / "blind16" / "questions_blind16.yaml",
        DATA / "blind16" / "crisis_blind16.yaml",
    ),
    "blind17": (
        DATA / "blind17" / "questions_blind17.yaml",
        DATA / "blind17" / "crisis_blind17.yaml",
    ),
    "blind18": (
        DATA / "blind18" / "questions_blind18.yaml",
        DATA / "blind18" / "crisis_blind18.yaml",
    ),
    "blind19": (
        DATA / "blind19" / "questions_blind19.yaml",
        DATA / "blind19" / "crisis_blind19.yaml",
    ),
    "blind20": (
        DATA / "blind20" / "questions_blind20.yaml",
        DATA / "blind20" / "crisis_blind20.yaml",
    ),
    "blind21": (
        DATA / "blind21" / "questions_blind21.yaml",
        DATA / "blind21" / "crisis_blind21.yaml",
    ),
    "blind22": (
        DATA / "blind22" / "questions_blind22.yaml",
        DATA / "blind22" / "crisis_blind22.yaml",
    ),
    "blind23": (
        DATA / "blind23" / "questions_blind23.yaml",
        DATA / "blind23" / "crisis_blind23.yaml",
    ),
    "blind24": (
        DATA / "blind24" / "questions_blind24.yaml",
        DATA / "blind24" / "crisis_blind24.yaml",
    ),
    "blind25": (
        DATA / "blind25" / "questions_blind25.yaml",
        DATA / "blind25" / "crisis_blind25.yaml",
    ),
    "blind26": (
        DATA / "blind26" / "questions_blind26.yaml",
        DATA / "blind26" / "crisis_blind26.yaml",
    ),
    "blind27": (
        DATA / "blind27" / "questions_blind27.yaml",
        DATA / "blind27" / "crisis_blind27.yaml",
    ),
    "blind28": (
        DATA / "blind28" / "questions_blind28.yaml",
        DATA / "blind28" / "crisis_blind28.yaml",
    ),
    "blind29": (
        DATA / "blind29" / "questions_blind29.yaml",
        DATA / "blind29" / "crisis_blind29.yaml",
    ),
    "blind30": (
        DATA / "blind30" / "questions_blind30.yaml",
        DATA / "blind30" / "crisis_blind30.yaml",
    ),
    "blind31": (
        DATA / "blind31" / "questions_blind31.yaml",
        DATA / "blind31" / "crisis_blind31.yaml",
    ),
    "blind32": (
        DATA / "blind32" / "questions_blind32.yaml",
        DATA / "blind32" / "crisis_blind32.yaml",
    ),
    "blind33": (
        DATA / "blind33" / "questions_blind33.yaml",
        DATA / "blind33" / "crisis_blind33.yaml",
    ),
    "blind34": (
        DATA / "blind34" / "questions_blind34.yaml",
        DATA / "blind34" / "crisis_blind34.yaml",
    ),
    "blind35": (
        DATA / "blind35" / "questions_blind35.yaml",
        DATA / "blind35" / "crisis_blind35.yaml",
    ),
    "blind36": (
        DATA / "blind36" / "questions_blind36.yaml",
        DATA / "blind36" / "crisis_blind36.yaml",
    ),
    "blind37": (
        DATA / "blind37" / "questions_blind37.yaml",
        DATA / "blind37" / "crisis_blind37.yaml",
    ),
}
TEAM = (
    Path(__file__).resolve().parent.parent / "tests" / "data" / "questions.yaml",
    DATA / "holdout.yaml",
)


def load_questions(path: Path = TEAM[0]) -> list[dict[str, str]]:
    """The team's first set in its own format ({q, topic, lang}; topic CRISIS or NONE)."""
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["questions"])


def load_items(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["items"])


def team_items() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The older sets, in the new labels (topic CRISIS/NONE become crisis/decline)."""
    questions: list[dict[str, Any]] = []
    crisis: list[dict[str, Any]] = []
    for path in TEAM:
        for q in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]:
            if q["topic"] == "CRISIS":
                crisis.append({"q": q["q"], "lang": q["lang"], "expect": "crisis", "kind": "any"})
            elif q["topic"] == "NONE":
                questions.append({"q": q["q"], "lang": q["lang"], "expect": "decline"})
            else:
                questions.append({**q, "expect": "answer"})
                crisis.append(
                    {"q": q["q"], "lang": q["lang"], "expect": "no_crisis", "kind": "faq"}
                )
    return questions, crisis


@dataclass
class Outcomes:
    counts: Counter[str] = field(default_factory=Counter)
    by_style: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[str] = field(default_factory=list)

    def add(self, outcome: str, style: str, line: str | None = None) -> None:
        self.counts[outcome] += 1
        self.by_style[style][outcome] += 1
        if line is not None:
            self.failures.append(f"{outcome:>18} | {line}")


def question_outcome(item: dict[str, Any], got: list[Reply]) -> str:
    """What the person saw, named from their side."""
    reply = got[-1]
    if item["expect"] == "decline":
        if any(r.kind == "crisis" for r in got):
            return "offtopic_crisis"
        if reply.kind in ("decline", "unknown"):
            return "offtopic_declined"
        if reply.kind in ("suggest", "smalltalk"):
            return "offtopic_suggested"
        return "offtopic_answered"
    if any(r.kind == "crisis" for r in got):
        return "crisis_numbers"
    right = set(item.get("topics") or [item.get("topic")]) | set(item.get("alt") or ())
    if item.get("topic") == "other":
        return {"answer": "other_answered", "suggest": "other_suggested"}.get(
            reply.kind, "other_declined"
        )
    if item.get("topic") == "greeting":
        return "direct_right" if reply.kind == "smalltalk" else "direct_wrong"
    if reply.kind == "answer":
        if reply.topic_id in right:
            return "direct_right"
        # answered about something else first, with the right topic as the button under it
        return "direct_other_first" if reply.also in right else "direct_wrong"
    if reply.kind == "suggest":
        if reply.suggestions and reply.suggestions[0] in right:
            return "suggest_right_first"
        return "suggest_right" if right & set(reply.suggestions) else "suggest_wrong"
    return "declined"


def _register(item: dict[str, Any]) -> str:
    """The item's style tag, and ON_BEHALF for every question asked for someone else: writers
    tag that register freely ("on_behalf_mother") or only give the topic."""
    style = str(item.get("style", "-"))
    return ON_BEHALF if "behalf" in style or item.get("topic") == ON_BEHALF else style


def evaluate_questions(
    items: list[dict[str, Any]], faq: FaqIndex, crisis: CrisisDetector
) -> tuple[Outcomes, list[float]]:
    out = Outcomes()
    times: list[float] = []
    for item in items:
        start = time.perf_counter()
        got = replies(item["q"], item.get("lang", "nb"), faq, crisis)
        times.append(time.perf_counter() - start)
        outcome = question_outcome(item, got)
        reply = got[-1]
        shown = reply.topic_id if reply.kind == "answer" else ",".join(reply.suggestions)
        wanted = item.get("topics") or item.get("topic") or "-"
        bad = outcome not in ("direct_right", "offtopic_declined")
        line = f"{wanted} <- {reply.kind}:{shown} | {item['q']}" if bad else None
        out.add(outcome, _register(item), line)
    return out, times


def evaluate_crisis(items: list[dict[str, Any]], crisis: CrisisDetector) -> Outcomes:
    out = Outcomes()
    for item in items:
        found = crisis.assess(item["q"])
        shown = found is not None
        if item["expect"] == "crisis":
            explicit = "explicit" if item.get("explicit") else "indirect"
            outcome = "caught" if shown else "missed"
            out.counts[f"{outcome}:{item.get('kind')}"] += 1
            out.counts[f"{outcome}:{explicit}"] += 1
            out.counts[f"{outcome}:{item.get('lang')}"] += 1
            out.counts[f"{outcome}:style:{item.get('style')}"] += 1
            if found is not None and found.tier == "check":
                out.counts["caught_by_check"] += 1
            out.add(outcome, str(item.get("style", "-")), None if shown else item["q"])
        else:
            outcome = "false_alarm" if shown else "left_alone"
            out.counts[f"{outcome}:{item.get('kind')}"] += 1
            out.add(outcome, str(item.get("kind", "-")), item["q"] if shown else None)
    return out


def share(n: int, d: int) -> str:
    return f"{n / d:.3f}" if d else "n/a"


def _plain(text: str) -> str:
    return " ".join(tokens(normalise(text)))


def seen_texts(name: str) -> set[str]:
    """Every message of the other sets, the training sets and the content, as plain words."""
    seen: set[str] = set()
    for other, paths in SETS.items():
        if other != name:
            seen |= {_plain(i["q"]) for p in paths if p.exists() for i in load_items(p)}
    for path in sorted((DATA / "train").glob("*.yaml")):
        seen |= {_plain(i["q"]) for i in load_items(path)}
    for topic in load_content().topics.values():
        for text in topic.text.values():
            seen |= {_plain(p) for p in (text.title, *text.examples)}
    return seen


def report(
    name: str, faq: FaqIndex, crisis: CrisisDetector, verbose: bool, unseen: bool = False
) -> str:
    if name == "team":
        questions, crisis_items = team_items()
    else:
        qpath, cpath = SETS[name]
        questions, crisis_items = load_items(qpath), load_items(cpath)
    if unseen:
        # Only messages word for word unlike anything trained on ("pris?" is in many sets).
        seen = seen_texts(name)
        questions = [i for i in questions if _plain(i["q"]) not in seen]
        crisis_items = [i for i in crisis_items if _plain(i["q"]) not in seen]
        name = f"{name}-unseen"
    q, times = evaluate_questions(questions, faq, crisis)
    c = evaluate_crisis(crisis_items, crisis)
    n = q.counts
    answerable = (
        sum(v for k, v in n.items() if k.startswith(("direct_", "suggest_", "crisis_numbers")))
        + n["declined"]
    )
    offtopic = sum(v for k, v in n.items() if k.startswith("offtopic_"))
    off_declined = n["offtopic_declined"]
    behalf = q.by_style[ON_BEHALF]
    behalf_n = sum(behalf.values())
    crisis_n = sum(1 for i in crisis_items if i["expect"] == "crisis")
    explicit_n = sum(1 for i in crisis_items if i["expect"] == "crisis" and i.get("explicit"))
    near_n = len(crisis_items) - crisis_n
    caught = c.counts["caught"]
    lines = [
        f"== {name}: {len(questions)} questions, {len(crisis_items)} crisis/near-miss messages"
    ]
    lines.append(
        "questions the content can answer: "
        f"{answerable}; direct right {share(n['direct_right'], answerable)}"
        f" ({n['direct_right']}), direct wrong {share(n['direct_wrong'], answerable)}"
        f" ({n['direct_wrong']}), another answer with the right one as a button"
        f" {n['direct_other_first']}, suggestions right first {n['suggest_right_first']},"
        f" right lower {n['suggest_right']}, without it {n['suggest_wrong']},"
        f" declined {n['declined']}, crisis numbers {n['crisis_numbers']}"
    )
    other = n["other_answered"] + n["other_suggested"] + n["other_declined"]
    if other:
        lines.append(
            f"no topic fits ({other}): answered {n['other_answered']},"
            f" suggestions {n['other_suggested']}, declined {n['other_declined']}"
        )
    lines.append(
        f"off-topic: {offtopic}; declined {share(off_declined, offtopic)} ({off_declined}),"
        f" suggestions {n['offtopic_suggested']}, answered anyway {n['offtopic_answered']},"
        f" crisis numbers {n['offtopic_crisis']}"
    )
    lines.append(
        f"asking for someone else: {behalf_n}; handled {share(behalf['direct_right'], behalf_n)}"
    )
    per_kind = ", ".join(
        f"{k} {c.counts[f'caught:{k}']}/{c.counts[f'caught:{k}'] + c.counts[f'missed:{k}']}"
        for k in ("suicide", "self_harm", "violence", "medical", "other_in_danger", "any")
        if c.counts[f"caught:{k}"] + c.counts[f"missed:{k}"]
    )
    per_lang = ", ".join(
        f"{k} {c.counts[f'caught:{k}']}/{c.counts[f'caught:{k}'] + c.counts[f'missed:{k}']}"
        for k in ("nb", "en")
        if c.counts[f"caught:{k}"] + c.counts[f"missed:{k}"]
    )
    lines.append(
        f"crisis: recall {share(caught, crisis_n)} ({caught}/{crisis_n}; {per_kind};"
        f" {per_lang}; by the gentle check {c.counts['caught_by_check']}),"
        f" explicit {share(c.counts['caught:explicit'], explicit_n)},"
        f" indirect {share(c.counts['caught:indirect'], crisis_n - explicit_n)}"
    )
    lines.append(
        f"near misses: {near_n}; false alarms {share(c.counts['false_alarm'], near_n)}"
        f" ({c.counts['false_alarm']})"
    )
    if verbose:
        lines += ["  " + f for f in q.failures]
        lines += ["  " + f for f in c.failures]
    times.sort()
    p95 = times[int(len(times) * 0.95)] * 1000 if times else 0.0
    lines.append(
        f"quality set={name} direct_right={share(n['direct_right'], answerable)}"
        f" direct_wrong={share(n['direct_wrong'], answerable)}"
        f" offtopic_declined={share(off_declined, offtopic)}"
        f" behalf={share(behalf['direct_right'], behalf_n)}"
        f" crisis_recall={share(caught, crisis_n)}"
        f" explicit_recall={share(c.counts['caught:explicit'], explicit_n)}"
        f" false_alarms={share(c.counts['false_alarm'], near_n)} p95_ms={p95:.2f}"
    )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    verbose = "-v" in argv
    unseen = "--unseen" in argv
    name = argv[argv.index("--set") + 1] if "--set" in argv else "all"
    content = load_content()
    models: dict[str, LinearModel] | None = {} if "--tfidf" in argv else None
    faq, crisis = create_readers(content, models)
    present = [n for n, (qpath, cpath) in SETS.items() if qpath.exists() and cpath.exists()]
    names = ["team", *present] if name == "all" else [name]
    for n in names:
        print(report(n, faq, crisis, verbose, unseen), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
