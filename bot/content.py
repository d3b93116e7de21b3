"""flows/*.yaml -> validated, immutable content: FAQ topics, UI strings, lexicon, crisis patterns.

Domain code works with keys and topic ids; only `Content.text` turns a key into a sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.answers.crisis import CrisisDetector, SafetyError
from bot.config import LANGUAGES
from bot.resources import flows_dir

# The checkout's flows/, or bot/flows inside an installed wheel (bot/resources.py).
FLOWS_DIR = flows_dir()
MAX_ANSWER_CHARS = 900
MAX_TITLE_CHARS = 32


class ContentError(Exception):
    """flows/ is inconsistent; `problems` lists each one with its file and key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class TopicText:
    title: str
    examples: tuple[str, ...]
    answer: str


@dataclass(frozen=True)
class Topic:
    id: str
    category: str
    related: tuple[str, ...]
    show_crisis_numbers: bool
    forwardable: bool  # answer is followed by a short text the resident can forward
    text: Mapping[str, TopicText]  # language -> text


@dataclass(frozen=True, eq=False)  # hashed by identity: one Content per process, cacheable
class Content:
    categories: tuple[str, ...]
    topics: Mapping[str, Topic]
    ui: Mapping[str, Mapping[str, str]]  # language -> flat key -> string
    lexicon: Mapping[str, Any]
    safety: Mapping[str, Any]  # flows/safety.yaml, checked by building the detector
    crisis_model: Mapping[str, Any] | None = None  # flows/crisis_model.yaml (generated)

    def text(self, lang: str, key: str, **values: object) -> str:
        """The UI string `key` in `lang`, with {placeholders} filled from `values`."""
        template = self.ui[lang][key]
        return template.format(**values) if values else template

    def has(self, lang: str, key: str) -> bool:
        return key in self.ui[lang]

    def topics_in(self, category: str) -> list[Topic]:
        return [t for t in self.topics.values() if t.category == category]


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, full + "."))
        else:
            flat[full] = str(value).strip()
    return flat


def _read_yaml(path: Path, problems: list[str]) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"{path.name}: cannot read ({exc})")
        return None


def load_content(flows_dir: Path = FLOWS_DIR) -> Content:
    """Load and cross-check every file under flows/; raise ContentError on any gap."""
    problems: list[str] = []
    structure = _read_yaml(flows_dir / "topics.yaml", problems) or {}
    categories = tuple(structure.get("categories", ()))
    raw_topics = structure.get("topics", [])
    ids = [t["id"] for t in raw_topics]
    if len(ids) != len(set(ids)):
        problems.append("topics.yaml: a topic id is listed twice")

    texts: dict[str, dict[str, TopicText]] = {}
    ui: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        lang_dir = flows_dir / lang
        merged: dict[str, Any] = {}
        for path in sorted(lang_dir.glob("faq_*.yaml")):
            data = _read_yaml(path, problems) or {}
            for tid, body in (data.get("topics") or {}).items():
                if tid in merged:
                    problems.append(f"{lang}/{path.name}: topic {tid} defined twice")
                merged[tid] = body
        for tid in ids:
            body = merged.get(tid)
            where = f"{lang}/faq: {tid}"
            if not isinstance(body, Mapping):
                problems.append(f"{where}: missing")
                continue
            title = str(body.get("title", "")).strip()
            answer = str(body.get("answer", "")).strip()
            examples = tuple(str(e).strip() for e in body.get("examples") or () if str(e).strip())
            if not title or len(title) > MAX_TITLE_CHARS:
                problems.append(f"{where}.title: expected 1-{MAX_TITLE_CHARS} characters")
            if not answer or len(answer) > MAX_ANSWER_CHARS:
                problems.append(f"{where}.answer: expected 1-{MAX_ANSWER_CHARS} characters")
            if len(examples) < 3:
                problems.append(f"{where}.examples: expected at least 3 phrasings")
            texts.setdefault(tid, {})[lang] = TopicText(title, examples, answer)
        for tid in set(merged) - set(ids):
            problems.append(f"{lang}/faq: {tid} is not listed in topics.yaml")
        # ui.yaml plus one ui_<feature>.yaml per feature; a key may be defined only once.
        ui[lang] = {}
        for path in sorted(lang_dir.glob("ui*.yaml")):
            part = _flatten(_read_yaml(path, problems) or {})
            for key in sorted(set(part) & set(ui[lang])):
                problems.append(f"{lang}/{path.name}: key {key} is defined in another file too")
            ui[lang].update(part)

    for lang in LANGUAGES:
        for other in LANGUAGES:
            for key in sorted(set(ui[lang]) - set(ui[other])):
                problems.append(f"{other}/ui.yaml: key {key} exists only in {lang}")

    topics: dict[str, Topic] = {}
    for raw in raw_topics:
        related = tuple(raw.get("related", ()))
        for rid in related:
            if rid not in ids:
                problems.append(f"topics.yaml: {raw['id']}.related names unknown topic {rid}")
        if raw.get("category") not in categories:
            problems.append(f"topics.yaml: {raw['id']}.category is not in categories")
        topics[raw["id"]] = Topic(
            id=raw["id"],
            category=raw.get("category", ""),
            related=related,
            show_crisis_numbers=bool(raw.get("show_crisis_numbers", False)),
            forwardable=bool(raw.get("forwardable", False)),
            text=texts.get(raw["id"], {}),
        )
    for lang in LANGUAGES:
        for cat in categories:
            if f"faq.category.{cat}" not in ui[lang]:
                problems.append(f"{lang}/ui.yaml: faq.category.{cat} missing")

    lexicon = _read_yaml(flows_dir / "lexicon.yaml", problems) or {}
    safety = _read_yaml(flows_dir / "safety.yaml", problems) or {}
    model_path = flows_dir / "crisis_model.yaml"
    model = _read_yaml(model_path, problems) if model_path.exists() else None
    try:
        CrisisDetector.build(safety, model)
    except SafetyError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ContentError(problems)
    return Content(categories, topics, ui, lexicon, safety, model)
