"""The statistical reading of a message (pure): features, and linear models trained on them.

Patterns and TF-IDF over hand-written phrasings measured well on phrasings like their own and
much worse on messages written elsewhere (bench/HISTORY.md). What generalised was a linear
model over many small, overlapping pieces of a message, trained on thousands of labelled
messages written by people who never saw the content (bench/data: the studied sets and the
training sets), so that a dialect spelling, a typo or an unforeseen phrasing still shares most
of its pieces with something seen before:

- `w:` each word's stem (Snowball, the message's language), nynorsk and dialect words first
  mapped to bokmål (flows/lexicon.yaml);
- `b:` pairs of neighbouring stems ("ikk_lev", "kill_myself");
- `c:` the character 3-, 4- and 5-grams of each word with its edges ("<kut", "utte", "ter>"),
  which carry inflections, misspellings and words run together;
- `l:` (crisis model only) the crisis detector's lemmas and lemma pairs (bot/answers/crisis.py).

Weights are TF-IDF, unit length. A model is a softmax regression over classes (FAQ topics and
`_offtopic`; or `none` and the kinds of crisis), trained by `python -m bench.train_models` and
stored as an `.npz` in flows/models. Nothing here is trained at run time and nothing is
downloaded: a model that cannot be read leaves the bot on its patterns and TF-IDF (said once
at start-up, bot/content.py).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import snowballstemmer

STEMMERS = {"nb": "norwegian", "en": "english"}
NGRAMS = (3, 4, 5)
MAX_WORDS = 300  # a long story is read up to here (the crisis detector reads it all itself)
CACHE_LIMIT = 50_000
FORMAT = 1


class ModelError(ValueError):
    """A model file that cannot be used (missing arrays, wrong shapes, another format)."""


@dataclass
class Featurizer:
    """Turns a message's words into the model's features (the same at training and run time)."""

    variants: Mapping[str, str]  # nynorsk/dialect -> bokmål (applied to Norwegian only)
    shared: Mapping[str, str] = field(default_factory=dict)  # both languages: place names
    hints: Mapping[str, frozenset[str]] = field(default_factory=dict)  # function words
    _stemmers: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _cache: dict[tuple[str, str], tuple[str, ...]] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        self._stemmers = {lang: snowballstemmer.stemmer(n) for lang, n in STEMMERS.items()}

    def word_features(self, word: str, lang: str) -> tuple[str, ...]:
        key = (word, lang)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        mapped = self.variants.get(word, word) if lang == "nb" else word
        mapped = self.shared.get(mapped, mapped)
        stem = str(self._stemmers[lang].stemWord(mapped))
        edged = f"<{word}>"
        out = [f"w:{stem}"]
        for n in NGRAMS:
            out += [f"c:{edged[i : i + n]}" for i in range(len(edged) - n + 1)]
        if mapped != word:  # the bokmål word's pieces too: "ikkje" also reads as "ikke"
            edged = f"<{mapped}>"
            out += [f"c:{edged[i : i + 4]}" for i in range(len(edged) - 3)]
        found = tuple(out)
        if len(self._cache) < CACHE_LIMIT:
            self._cache[key] = found
        return found

    @classmethod
    def from_lexicon(cls, lexicon: Mapping[str, Any]) -> Featurizer:
        variants = {str(k): str(v) for k, v in (lexicon.get("nb_variants") or {}).items()}
        place = str(lexicon.get("place_word") or "stedsnavn")
        shared = {str(p): place for p in lexicon.get("places") or ()}
        hints = lexicon.get("language_hints") or {}
        words = {lang: frozenset(str(w) for w in hints.get(lang) or ()) for lang in STEMMERS}
        return cls(variants, shared, words)

    def language(self, words: Sequence[str], fallback: str = "nb") -> str:
        """'en' or 'nb' by function words (the FAQ index reads it more carefully)."""
        en = sum(w in self.hints.get("en", ()) for w in words)
        nb = sum(w in self.hints.get("nb", ()) for w in words)
        return "en" if en > nb else "nb" if nb > en else fallback

    def features(self, words: Sequence[str], lang: str) -> list[str]:
        words = words[:MAX_WORDS]
        lang = lang if lang in STEMMERS else "nb"
        out: list[str] = []
        stems: list[str] = []
        for word in words:
            found = self.word_features(word, lang)
            stems.append(found[0][2:])
            out.extend(found)
        out += [f"b:{a}_{b}" for a, b in itertools.pairwise(stems)]
        return out


@dataclass(frozen=True)
class LinearModel:
    """A softmax regression over TF-IDF features: which class, and how sure."""

    classes: tuple[str, ...]
    index: Mapping[str, int]  # feature -> row
    idf: np.ndarray  # (features,) float32
    weights: np.ndarray  # (features, classes) float32
    bias: np.ndarray  # (classes,) float32
    meta: Mapping[str, Any]

    def vector(self, features: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        counts = Counter(f for f in features if f in self.index)
        if not counts:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32)
        rows = np.fromiter((self.index[f] for f in counts), dtype=np.intp, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        values = (1.0 + np.log(tf)) * self.idf[rows]
        values /= float(np.linalg.norm(values))
        return rows, values

    def probabilities(self, features: Iterable[str]) -> np.ndarray:
        """One probability per class (in `classes` order); the prior when nothing is known."""
        rows, values = self.vector(features)
        z = values @ self.weights[rows] + self.bias if len(rows) else self.bias.copy()
        z = z - z.max()
        p = np.exp(z)
        return np.asarray(p / p.sum())

    def ranked(self, features: Iterable[str]) -> list[tuple[str, float]]:
        p = self.probabilities(features)
        order = np.argsort(-p, kind="stable")
        return [(self.classes[int(j)], float(p[j])) for j in order]

    # --- storage ----------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        names = sorted(self.index, key=self.index.__getitem__)
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            format=np.array(FORMAT),
            classes=np.array(self.classes),
            features=np.array(names),
            idf=self.idf.astype(np.float32),
            weights=self.weights.astype(np.float16),
            bias=self.bias.astype(np.float32),
            meta=np.array(json.dumps(dict(self.meta), sort_keys=True, ensure_ascii=False)),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> LinearModel:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                if int(z["format"]) != FORMAT:
                    raise ModelError(f"format {int(z['format'])}, expected {FORMAT}")
                classes = tuple(str(c) for c in z["classes"])
                names = [str(f) for f in z["features"]]
                idf = z["idf"].astype(np.float32)
                weights = z["weights"].astype(np.float32)
                bias = z["bias"].astype(np.float32)
                meta = json.loads(str(z["meta"]))
        except ModelError:
            raise
        except Exception as exc:  # a truncated or foreign file: numpy, zip or json errors
            raise ModelError(f"not a model file ({type(exc).__name__}: {exc})") from exc
        if weights.shape != (len(names), len(classes)) or idf.shape != (len(names),):
            raise ModelError(f"shapes do not fit: weights {weights.shape}, idf {idf.shape}")
        if bias.shape != (len(classes),) or not isinstance(meta, dict):
            raise ModelError("bias or meta do not fit the classes")
        index = {f: i for i, f in enumerate(names)}
        return cls(classes, index, idf, weights, bias, meta)

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        return cls.from_bytes(path.read_bytes())


def fingerprint(parts: Iterable[str]) -> str:
    """A short digest of what a model was trained from (to tell when it is out of date)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def train_softmax(
    samples: Sequence[Sequence[str]],
    labels: Sequence[str],
    *,
    min_count: int = 2,
    epochs: int = 30,
    l2: float = 1e-5,
    rate: float = 0.5,
    batch: int = 256,
    seed: int = 0,
    class_weight: Mapping[str, float] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> LinearModel:
    """Softmax regression with AdaGrad on mini-batches (numpy only; used by bench/)."""
    df: Counter[str] = Counter()
    for feats in samples:
        df.update(set(feats))
    names = sorted(f for f, c in df.items() if c >= min_count)
    index = {f: i for i, f in enumerate(names)}
    n = len(samples)
    idf = np.array([math.log(1 + n / df[f]) for f in names], dtype=np.float32)
    classes = tuple(sorted(set(labels)))
    class_row = {c: i for i, c in enumerate(classes)}
    shell = LinearModel(classes, index, idf, np.zeros((0, 0)), np.zeros(0), {})
    vectors = [shell.vector(feats) for feats in samples]
    y = np.array([class_row[label] for label in labels], dtype=np.intp)
    sample_weight = np.array(
        [(class_weight or {}).get(label, 1.0) for label in labels], dtype=np.float32
    )
    n_features, n_classes = len(names), len(classes)
    weights = np.zeros((n_features, n_classes), dtype=np.float32)
    bias = np.zeros(n_classes, dtype=np.float32)
    g2 = np.full((n_features, n_classes), 1e-8, dtype=np.float32)
    g2_bias = np.full(n_classes, 1e-8, dtype=np.float32)
    rng = np.random.default_rng(seed)
    for _epoch in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch):
            picked = order[start : start + batch]
            cols = np.unique(np.concatenate([vectors[i][0] for i in picked]))
            x = np.zeros((len(picked), len(cols)), dtype=np.float32)
            for r, i in enumerate(picked):
                rows, values = vectors[i]
                where = np.searchsorted(cols, rows)
                x[r, where] = values
            z = x @ weights[cols] + bias
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(picked)), y[picked]] -= 1.0
            p *= sample_weight[picked, None]
            grad = x.T @ p / len(picked) + l2 * weights[cols]
            grad_bias = p.mean(axis=0)
            g2[cols] += grad * grad
            g2_bias += grad_bias * grad_bias
            weights[cols] -= rate * grad / np.sqrt(g2[cols])
            bias -= rate * grad_bias / np.sqrt(g2_bias)
    return LinearModel(classes, index, idf, weights, bias, dict(meta or {}))
