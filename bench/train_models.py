"""Train the two statistical models the bot ships (bot/answers/text_model.py).

    python -m bench.train_models            write flows/models/topics.npz and crisis.npz
    python -m bench.train_models --cv       leave one studied set out at a time, print the
                                            held-out figures (nothing written)

Training data, all labelled by the outcome a person should see:
- the content's own titles and example phrasings (flows/*/faq_*.yaml) and the lexicon's
  off-topic phrasings;
- the sets whose failures have been studied (bench/data/dev, blind1 to blind6) and the team's
  old sets;
- the training sets (bench/data/train), written for this purpose by helpers who saw only
  ../shared/domain/BRIEF.md and the topic list (bench/data/blind/LABELS.md), never the content.
Never a set that is still blind (bench/data/blind37 and later): `BLIND` lists them and a test
checks that the models' recorded inputs do not include them.

The topic model's classes are the FAQ topics and `_offtopic`; the crisis model's are `none` and
the kinds of crisis. Thresholds (the crisis model's `check` and `crisis`) are in the model's
meta, chosen with --cv (held-out recall and false alarms over the studied sets).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.quality import DATA, SETS, load_items, report, team_items
from bot.answers.answering import ON_BEHALF
from bot.answers.crisis import KINDS, CrisisDetector
from bot.answers.faq_index import FaqIndex
from bot.answers.text_model import LinearModel, fingerprint, train_softmax
from bot.composition import create_readers, create_safety
from bot.content import FLOWS_DIR, Content, load_content
from bot.textnorm import normalise, tokens

MODELS = FLOWS_DIR / "models"
TRAIN = DATA / "train"
BLIND: tuple[str, ...] = ("blind37",)  # still blind: never trained on
STUDIED = (
    "dev",
    "blind1",
    "blind2",
    "blind3",
    "blind4",
    "blind5",
    "blind6",
    "blind7",
    "blind8",
    "blind9",
    "blind10",
    "blind11",
    "blind12",
    "blind13",
    "blind14",
    "blind15",
    "blind16",
    "blind17",
    "blind18",
    "blind19",
    "blind20",
    "blind21",
    "blind22",
    "blind23",
    "blind24",
    "blind25",
    "blind26",
    "blind27",
    "blind28",
    "blind29",
    "blind30",
    "blind31",
    "blind32",
    "blind33",
    "blind34",
    "blind35",
    "blind36",
)
OFFTOPIC = "_offtopic"
SMALLTALK = "_smalltalk"
NONE = "none"
# Crisis thresholds on P(crisis) = 1 - P(none), chosen with --cv: from CHECK the gentle "are
# you safe right now?" with the numbers, from CRISIS the crisis reply itself.
CHECK = 0.3
CRISIS = 0.6
# A pattern's match that the model gives less than this is asked about gently (or, in a message
# about the past or a story, left alone).
VETO = 0.05
# A pattern's crisis (said outright) in a message of six words or more that the model gives
# less than this: no reply. Held out over the studied sets up to blind12, no crisis message a
# pattern found was below it (0 of 1,124 at 0.03) and 9 of the 18 near misses were.
STRONG_VETO = 0.03
# ...and in a message that also says why it is not one (the past, a loss, a professional's
# question, "no plans", a move), below this. Held out over the studied sets up to blind14 (models
# without the set, patterns as shipped): 0 of 2,363 crisis messages lost, 4 of 1,580 near misses
# cleared; 0.1 lost "i want to die but is there a group in english in oslo".
CONTEXT_VETO = 0.05
# A gentle-check phrase alone in a message of eight words or more, below this: none. Held out:
# 0 lost, 1 cleared; 0.05 lost "fiks meg et nummer jeg kan ringe før jeg gjør noe dumt".
CHECK_VETO = 0.03


Item = dict[str, Any]


def content_items(content: Content) -> list[Item]:
    items: list[Item] = []
    for topic in content.topics.values():
        for lang, text in topic.text.items():
            for phrase in (text.title, *text.examples):
                items.append(
                    {
                        "q": phrase,
                        "lang": lang,
                        "expect": "answer",
                        "topic": topic.id,
                        "source": "content",
                        "crisis_words": topic.show_crisis_numbers,
                    }
                )
    for lang, phrases in (content.lexicon.get("offtopic") or {}).items():
        items += [
            {"q": str(p), "lang": lang, "expect": "decline", "source": "content"}
            for p in phrases or ()
        ]
    return items


def reply_items(content: Content) -> list[Item]:
    """Short harmless answers people type to the bot's own questions and buttons: yes and no,
    numbers, places, and the bot's own short texts (never its crisis texts)."""
    words = [
        "ja",
        "nei",
        "jo",
        "ok",
        "okei",
        "kanskje",
        "yes",
        "no",
        "maybe",
        "sure",
        "tja",
        "hmm",
        "nja",
        "javisst",
        "nope",
        "yep",
        "absolutt",
        "gjerne",
        "ikke nå",
        "not now",
    ]
    words += [str(n) for n in range(0, 101)]
    words += [str(p) for p in content.lexicon.get("places") or ()]
    for strings in content.ui.values():
        words += [v for k, v in strings.items() if "crisis" not in k and len(v) <= 40]
    return [
        {"q": w, "lang": "nb", "expect": "no_crisis", "topic": "none", "source": "replies"}
        for w in dict.fromkeys(words)
    ]


def set_items(name: str) -> list[Item]:
    qpath, cpath = SETS[name]
    return [{**i, "source": name} for i in (*load_items(qpath), *load_items(cpath))]


def train_items() -> list[Item]:
    out: list[Item] = []
    for path in sorted(TRAIN.glob("*.yaml")):
        out += [{**i, "source": f"train/{path.stem}"} for i in load_items(path)]
    return out


def all_items(content: Content, leave_out: str | None = None) -> list[Item]:
    questions, crisis = team_items()
    items = content_items(content) + [{**i, "source": "team"} for i in (*questions, *crisis)]
    items += reply_items(content)
    for name in STUDIED:
        if name != leave_out:
            items += set_items(name)
    return items + train_items()


def topic_label(item: Item, content: Content) -> str | None:
    if item["expect"] == "decline":
        return OFFTOPIC
    if item["expect"] == "answer" and item.get("topic") == "greeting":
        return SMALLTALK
    if item["expect"] in ("answer", "no_crisis") and item.get("topic") in content.topics:
        return str(item["topic"])
    return None


def crisis_label(item: Item) -> str | None:
    if item["expect"] == "crisis":
        kind = item.get("kind")
        return str(kind) if kind in KINDS else "suicide"  # the team's sets give no kind
    if item.get("crisis_words"):
        return None  # "where do I get help now" phrasings say crisis words on purpose
    return NONE


class Readers:
    """The features each model reads, computed as the bot computes them."""

    def __init__(self, content: Content) -> None:
        self.content = content
        self.faq = FaqIndex(content, models={})
        self.detector: CrisisDetector = create_safety(content, models={})
        self.featurizer = self.faq.featurizer

    def use_words(self, words: Sequence[str]) -> None:
        """Split run-together words into these, as the bot will with the model they train."""
        content = self.content
        self.detector = CrisisDetector.build(
            content.safety, content.crisis_model, None, self.featurizer, words=words
        )

    def topic_features(self, item: Item) -> list[str]:
        return self.faq.features(self.faq.read(item["q"], item.get("lang", "nb")))

    def crisis_features(self, item: Item) -> list[str]:
        return self.detector.model_features(item["q"], self.featurizer)


def train_topics(items: list[Item], content: Content, readers: Readers) -> LinearModel:
    labelled = [(i, topic_label(i, content)) for i in items]
    meta = {"kind": "topics", "inputs": inputs(i for i, y in labelled if y is not None)}
    labelled += [(i, topic_label(i, content)) for i in story_copies(items, content)]
    picked = [(i, y) for i, y in labelled if y is not None]
    feats = [readers.topic_features(i) for i, _ in picked]
    return train_softmax(feats, [y for _, y in picked], epochs=30, meta=meta)


# Words of politeness and pleading that people in a crisis write more often than the questions
# in the training data do ("please help"): the model learnt them as crisis signs ("yes please"
# got the violence reply). Harmless copies of harmless messages with these words added teach
# it that they say nothing by themselves.
POLITE = {
    "en": ("please", "pls", "please help me understand"),
    "nb": ("takk", "hjelp meg å forstå"),
}


def polite_copies(items: list[Item]) -> list[Item]:
    out: list[Item] = []
    for n, item in enumerate(items):
        if item["source"] == "content" or crisis_label(item) != NONE or n % 3:
            continue
        words = POLITE.get(item.get("lang", "nb"), ())
        if words:
            extra = words[(n // 3) % len(words)]
            out.append({**item, "q": f"{item['q']} {extra}" if n % 2 else f"{extra} {item['q']}"})
    return out


# What older people and people in small places often write before they ask: a bit of their
# own life, naming a husband, a daughter, a dog, a farm, an illness (blind31 and blind32's
# writers B). The topic model read such a story as the question ("ta han med" about a dog as
# asking for someone else; a daughter's nagging as own_motivation). Copies of short questions
# with one or two such sentences put before them, the label unchanged, teach it that the story
# does not change what is asked. Never for questions asked for someone else (whose story is the
# point), small talk or crisis messages. The sentences name nothing a topic is about (no age,
# price, village gossip, doctor or group).
STORY = {
    "nb": (
        "Mannen min døde for tre år siden, og jeg bor alene nå.",
        "Eg har ein gard i Sogn og to kyr igjen.",
        "Dottera mi bur i Bergen og kjem heim i feriane.",
        "Eg har ein gammal hund som følgjer meg overalt.",
        "Jeg har jobbet på fiskebruket i mange år.",
        "Kona mi og eg har vore gift i over førti år.",
        "Sønnen min flyttet til Oslo for jobben.",
        "Æ bor på et lite sted nordpå og kjører mye bil.",
        "Jeg har hatt en tung høst med mye regn og lite lys.",
        "Eg har skrive litt før her, men får ikkje sove for eg tenkjer på det.",
        "Vi fikk barnebarn i sommer, og det er stas.",
        "Eg strikkar mykje og høyrer på radio om kveldane.",
        "Jeg har bodd i denne kommunen hele livet.",
        "Naboen hjalp meg med snømåkinga i går.",
        "Hei, eg er ikkje så flink med slike appar, men eg prøver.",
        "Unnskyld om jeg skriver rart, jeg er ikke vant med dette.",
    ),
    "en": (
        "My husband passed away a few years ago and I live on my own now.",
        "I have an old dog who follows me everywhere.",
        "My daughter lives abroad and calls on Sundays.",
        "I moved here for work last year.",
        "I worked at the same factory for thirty years.",
        "Sorry if this is a silly question, I'm not used to these apps.",
        "We had a long dark winter and I have been thinking a lot.",
        "My wife and I have been married for a long time.",
        "My son moved to another city for his studies.",
        "I knit a lot and listen to the radio in the evenings.",
    ),
}
STORY_EVERY = 4  # one copy for every fourth short question


def story_copies(items: list[Item], content: Content) -> list[Item]:
    out: list[Item] = []
    for n, item in enumerate(items):
        label = topic_label(item, content)
        if n % STORY_EVERY or label in (None, ON_BEHALF, SMALLTALK) or crisis_label(item) != NONE:
            continue
        if len(item["q"].split()) > 25:
            continue
        story = STORY.get(item.get("lang", "nb"), ())
        if story:
            first = story[(n // STORY_EVERY) % len(story)]
            second = story[(n // STORY_EVERY * 7 + 3) % len(story)]
            told = first if n % 3 or first == second else f"{first} {second}"
            out.append({**item, "q": f"{told} {item['q']}"})
    return out


# A word from this long must be in at least two training messages to count as a word a
# run-together message may hold (once may be a run-together message itself).
WORD_LONG = 10


def split_vocabulary(items: Iterable[Item], detector: CrisisDetector) -> list[str]:
    """The ordinary words of the training messages, for splitting words run together: not
    those of crisis messages, nor words seen once that the crisis lemmas split ("orkerikke"),
    which are often run together themselves."""
    counts: Counter[str] = Counter()
    for item in items:
        if item["expect"] == "crisis":
            continue
        counts.update(set(tokens(normalise(str(item["q"]), limit=None))))
    return sorted(
        w
        for w, n in counts.items()
        if 2 <= len(w) <= 14
        and w.isalpha()
        and (n >= 2 or (len(w) < WORD_LONG and not any(r._split(w) for r in detector.readers)))
    )


def train_crisis(items: list[Item], readers: Readers) -> LinearModel:
    readers.use_words(())
    words = split_vocabulary(items, readers.detector)
    readers.use_words(words)
    labelled = [(i, crisis_label(i)) for i in items]
    labelled += [(i, NONE) for i in polite_copies(items)]
    picked = [(i, y) for i, y in labelled if y is not None]
    feats = [readers.crisis_features(i) for i, _ in picked]
    labels = [y for _, y in picked]
    share = sum(y != NONE for y in labels) / len(labels)
    weight = {k: (1 - share) / share / 2 for k in KINDS}  # crises weigh as much as half the rest
    meta = {
        "kind": "crisis",
        "check": CHECK,
        "crisis": CRISIS,
        "veto": VETO,
        "strong_veto": STRONG_VETO,
        "context_veto": CONTEXT_VETO,
        "check_veto": CHECK_VETO,
        "inputs": inputs(i for i, _ in picked),
        "words": words,
    }
    return train_softmax(feats, labels, epochs=30, class_weight=weight, meta=meta)


def inputs(items: Iterable[Item]) -> dict[str, Any]:
    items = list(items)
    sources = sorted({str(i["source"]) for i in items})
    return {
        "sources": sources,
        "count": len(items),
        "fingerprint": fingerprint(f"{i['source']}|{i['q']}" for i in items),
    }


def write(model: LinearModel, name: str) -> Path:
    MODELS.mkdir(exist_ok=True)
    path = MODELS / f"{name}.npz"
    path.write_bytes(model.to_bytes())
    return path


def crisis_probability(model: LinearModel, feats: list[str]) -> tuple[float, str]:
    p = model.probabilities(feats)
    none = model.classes.index(NONE)
    kinds = [(float(p[j]), c) for j, c in enumerate(model.classes) if c != NONE]
    return 1.0 - float(p[none]), max(kinds)[1]


def cross_validate(content: Content) -> None:
    readers = Readers(content)
    rows: list[tuple[str, bool, bool, float, bool]] = []  # set, is_crisis, patterns, p, explicit
    topic_hits: dict[str, list[int]] = {}
    for name in STUDIED:
        started = time.perf_counter()
        train = all_items(content, leave_out=name)
        held = set_items(name)
        crisis_model = train_crisis(train, readers)
        for item in held:
            if item["expect"] not in ("crisis", "no_crisis"):
                continue
            p, _kind = crisis_probability(crisis_model, readers.crisis_features(item))
            patterns = readers.detector.assess(item["q"]) is not None
            rows.append(
                (name, item["expect"] == "crisis", patterns, p, bool(item.get("explicit")))
            )
        questions = [
            i for i in held if i["expect"] == "answer" and i.get("topic") in content.topics
        ]
        if questions:
            topic_model = train_topics(train, content, readers)
            hits = topic_hits.setdefault(name, [0, 0])
            for item in questions:
                best = topic_model.ranked(readers.topic_features(item))
                top = next(c for c, _p in best if not c.startswith("_"))
                hits[0] += top in {item["topic"], *(item.get("alt") or ())}
                hits[1] += 1
        print(f"cv {name}: {time.perf_counter() - started:.0f} s", flush=True)
    for name, (hit, n) in topic_hits.items():
        print(f"topics held out {name}: top-1 {hit / n:.3f} ({hit}/{n})")
    crises = [r for r in rows if r[1]]
    near = [r for r in rows if not r[1]]
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        caught = sum(r[2] or r[3] >= threshold for r in crises)
        false = sum(r[2] or r[3] >= threshold for r in near)
        alone = sum(r[3] >= threshold for r in crises)
        alone_false = sum(r[3] >= threshold for r in near)
        print(
            f"crisis held out, threshold {threshold}: with patterns recall"
            f" {caught / len(crises):.3f} false alarms {false / len(near):.3f};"
            f" model alone {alone / len(crises):.3f} / {alone_false / len(near):.3f}"
        )
    pat = sum(r[2] for r in crises), sum(r[2] for r in near)
    print(
        f"patterns alone: recall {pat[0] / len(crises):.3f} false alarms {pat[1] / len(near):.3f}"
        " (patterns were tuned on these sets: not evidence)"
    )


def cross_validate_quality(content: Content, names: Sequence[str], verbose: bool) -> None:
    """What a person would see on each studied set, answered by models trained without it:
    the same report as bench.quality (the patterns were tuned on these sets: only the models
    are held out)."""
    readers = Readers(content)
    for name in names:
        train = all_items(content, leave_out=name)
        models = {
            "topics": train_topics(train, content, readers),
            "crisis": train_crisis(train, readers),
        }
        faq, crisis = create_readers(content, models, readers.featurizer)
        print(report(name, faq, crisis, verbose).replace("quality set=", "cv set="))
        print(flush=True)


def main(argv: list[str]) -> None:
    content = load_content()
    if "--cv" in argv:
        cross_validate(content)
        return
    if "--cv-quality" in argv:
        picked = [a for a in argv if a in STUDIED]
        cross_validate_quality(content, picked or STUDIED, "-v" in argv)
        return
    readers = Readers(content)
    items = all_items(content)
    started = time.perf_counter()
    topics = train_topics(items, content, readers)
    crisis = train_crisis(items, readers)
    for name, model in (("topics", topics), ("crisis", crisis)):
        path = write(model, name)
        print(
            f"wrote {path.relative_to(FLOWS_DIR.parent)}: {len(model.index)} features,"
            f" {len(model.classes)} classes, {path.stat().st_size // 1024} KiB"
        )
    print(f"train_models items={len(items)} seconds={time.perf_counter() - started:.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
