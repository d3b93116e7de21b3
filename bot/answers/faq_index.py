"""The question-answering index (pure: text in, ranked topics out).

Method, chosen by measurement on tests/data/questions.yaml (see bench/faq.py and the README):
each topic's title and example phrasings (and, weakly, its answer) become TF-IDF vectors over
*terms*: Snowball stems (Norwegian or English), the parts of Norwegian compounds
("selvhjelpsgruppa" -> selvhjelp, gruppe) and, for words the index has never seen, the closest
known stem by edit distance (rapidfuzz), which absorbs typos. A question scores each topic by
cosine similarity with its best example, blended with the whole topic. Nynorsk and dialect words
are mapped to bokmål first (flows/lexicon.yaml). The question's language is read from function
words, so an English question is answered in English whatever the chat's language is.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import snowballstemmer
from rapidfuzz import fuzz, process

from bot.answers.text_model import Featurizer, LinearModel
from bot.chat import language as chat_language
from bot.config import LANGUAGES
from bot.content import Content
from bot.textnorm import apply_variants, normalise, replace_marks, tokens

STEMMER_NAMES = {"nb": "norwegian", "en": "english"}
EXAMPLE_WEIGHT = 0.7  # share of a topic's score that comes from its best-matching example
ANSWER_TERM_WEIGHT = 0.3  # answer words count less than titles and example phrasings
FUZZY_CUTOFF = 82.0  # rapidfuzz ratio a typo must reach to stand for a known stem
MIN_FUZZY_LEN = 5  # shorter stems have too many near neighbours (selg -> seg, takk -> tak)
MIN_PART_LEN = 4  # a compound's tail must be this long (morgen is not mor + gen)
LINKING_LETTERS = ("s", "e")
JOINED_MIN_LEN = 12  # a one-word question this long may be a whole question run together
CACHE_LIMIT = 50_000  # Norwegian compounds join parts with -s- or -e-


@dataclass(frozen=True)
class Ranked:
    topic_id: str
    score: float


_AGE_BEFORE_EN = frozenset({"am", "im", "i'm", "is", "aged", "age", "turned", "turning"})
_AGE_BEFORE = _AGE_BEFORE_EN | {"er", "e", "æ", "på", "blir", "fyller", "fylte", "snart"}
_AGE_AFTER = frozenset({"år", "years", "year", "yo", "åring", "åringen", "åra"})
_NOT_AGE_AFTER = frozenset({"times", "ganger", "gange", "pluss", "plus", "minus", "delt", "x"})
_WITH_BEFORE = frozenset(
    {"bli", "være", "vær", "vere", "ver", "ha", "ta", "kom", "komme", "værra"}
)
SMALLTALK = "_smalltalk"  # the trained model's class for hello, thanks and goodbye
OFFTOPIC = "_offtopic"  # a pseudo-topic of things the bot is not for (lexicon.yaml offtopic)
MIXED_COVERAGE = 0.6  # below this share of known words, the other language's index is asked too


@dataclass(frozen=True)
class Match:
    """The matcher's verdict on one question."""

    lang: str  # language the question is written in (or the fallback given)
    ranked: tuple[Ranked, ...]  # best first, at most `limit`
    offtopic: float = 0.0  # how well the question matches what the bot is not for
    coverage: float = 1.0  # the share of the question's weight the index knows
    anchored: bool = False  # names something only self-help questions name (lexicon anchors)
    trained: bool = False  # scores are the trained model's probabilities, not TF-IDF
    smalltalk: float = 0.0  # the trained model's probability that this is only small talk

    @property
    def best(self) -> Ranked | None:
        return self.ranked[0] if self.ranked else None


Vector = dict[str, float]


@dataclass(frozen=True)
class Reading:
    """A question read once: its words, its language, and whether it is only small talk."""

    words: tuple[str, ...]  # normalised word tokens, before nynorsk/dialect mapping
    lang: str
    smalltalk: str | None  # "thanks" or "greeting" when that is all the message says
    margin: float = 0.0  # how many more function words of `lang` than of the other language


class _LanguageIndex:
    """TF-IDF index of one language's topics."""

    def __init__(
        self,
        lang: str,
        content: Content,
        variants: dict[str, str],
        extra_parts: Iterable[str],
        stopwords: frozenset[str],
        offtopic: Iterable[str] = (),
    ) -> None:
        self.lang = lang
        self.variants = variants  # nynorsk/dialect -> bokmål (nb only) and place names -> one word
        self.stopwords = stopwords
        # Per-word caches (bounded: a flood of unique garbage words cannot grow them forever).
        self._word_cache: dict[str, tuple[str, ...]] = {}
        self._query_cache: dict[str, tuple[tuple[str, float], ...]] = {}
        self._stemmer = snowballstemmer.stemmer(STEMMER_NAMES[lang])
        corpus_words: set[str] = set()
        raw_docs: list[tuple[str, list[str], float]] = []  # (topic, words, weight)
        for topic in content.topics.values():
            text = topic.text[lang]
            for phrase in (text.title, *text.examples):
                words = self._words(phrase)
                raw_docs.append((topic.id, words, 1.0))
                corpus_words.update(words)
            answer_words = self._words(text.answer)
            raw_docs.append((topic.id, answer_words, ANSWER_TERM_WEIGHT))
            corpus_words.update(answer_words)
        for phrase in offtopic:
            words = self._words(phrase)
            raw_docs.append((OFFTOPIC, words, 1.0))
            corpus_words.update(words)
        self.parts = {self._stem(w) for w in (*corpus_words, *extra_parts) if len(w) >= 3}
        self._known_stems = {self._stem(w) for w in corpus_words}
        self._choices = sorted(self._known_stems | self.parts)

        doc_terms = [(tid, self._terms(words), weight) for tid, words, weight in raw_docs]
        df: Counter[str] = Counter()
        for _, terms, _w in doc_terms:
            df.update(set(terms))
        n_docs = len(doc_terms)
        self.idf = {t: math.log(1 + n_docs / c) for t, c in df.items()}
        self.max_idf = max(self.idf.values(), default=1.0)

        self.examples: list[tuple[str, Vector, float]] = []
        topic_vectors: dict[str, Vector] = defaultdict(dict)
        for tid, terms, weight in doc_terms:
            vec = self._vector(terms)
            if weight == 1.0 and vec:
                self.examples.append((tid, vec, math.sqrt(sum(v * v for v in vec.values()))))
            tv = topic_vectors[tid]
            for t, w in vec.items():
                tv[t] = tv.get(t, 0.0) + w * weight
        self.topics = {
            tid: (vec, math.sqrt(sum(v * v for v in vec.values())))
            for tid, vec in topic_vectors.items()
        }
        # Term-major matrices of unit-length rows: a question's scores are then a few rows
        # picked by its terms and one matrix product (numpy), instead of Python loops.
        # Columns: every example, grouped by topic, then every topic as a whole; so one row
        # pick and one product score both, and each topic's best example is one reduceat.
        self._column = {t: i for i, t in enumerate(sorted(self.idf))}
        self._topic_ids = list(self.topics)
        self._offtopic_row = (
            self._topic_ids.index(OFFTOPIC) if OFFTOPIC in self._topic_ids else None
        )
        topic_row = {tid: i for i, tid in enumerate(self._topic_ids)}
        self.examples.sort(key=lambda example: topic_row[example[0]])  # stable: keeps order
        example_topics = [topic_row[tid] for tid, _v, _n in self.examples]
        if sorted(set(example_topics)) != list(range(len(self._topic_ids))):
            raise ValueError(f"{lang}: every topic needs at least one example phrasing")
        self._example_starts = np.array(
            [example_topics.index(j) for j in range(len(self._topic_ids))], dtype=np.intp
        )
        self._n_examples = len(self.examples)
        # Each column carries its share of the score, so a topic's score is its own column
        # plus its best example's: no further arithmetic per question.
        columns = [(vec, norm / EXAMPLE_WEIGHT) for _tid, vec, norm in self.examples]
        columns += [(vec, norm / (1 - EXAMPLE_WEIGHT)) for vec, norm in self.topics.values()]
        self._matrix = np.zeros((len(self._column), len(columns)))
        for j, (vec, norm) in enumerate(columns):
            for t, w in vec.items():
                self._matrix[self._column[t], j] = w / norm

    def _words(self, text: str) -> list[str]:
        words = apply_variants(tokens(normalise(text)), self.variants)
        return [w for w in words if w not in self.stopwords]

    def _stem(self, word: str) -> str:
        return str(self._stemmer.stemWord(word))

    def _split_compound(self, word: str) -> list[str]:
        """Known parts of a Norwegian compound, longest head first; [] if it does not split."""
        if self.lang != "nb" or len(word) < 7:
            return []
        for i in range(len(word) - MIN_PART_LEN, 2, -1):
            head, tail = word[:i], word[i:]
            heads = [head]
            if head[-1] in LINKING_LETTERS and len(head) > 3:
                heads.append(head[:-1])
            tail_stem = self._stem(tail)
            if tail_stem not in self.parts:
                continue
            for h in heads:
                if self._stem(h) in self.parts or h in self.parts:
                    return [self._stem(h), tail_stem]
        return []

    def _terms(self, words: list[str]) -> list[str]:
        out: list[str] = []
        for w in words:
            out.extend(self._word_terms(w))
        return out

    def _word_terms(self, word: str) -> tuple[str, ...]:
        cached = self._word_cache.get(word)
        if cached is not None:
            return cached
        stem = self._stem(word)
        terms = tuple(dict.fromkeys([stem, *self._split_compound(word)]))
        if len(self._word_cache) < CACHE_LIMIT:
            self._word_cache[word] = terms
        return terms

    def _query_terms(self, word: str) -> tuple[tuple[str, float], ...]:
        """Terms for a word of a question: as in the index, or the nearest known stem for typos."""
        cached = self._query_cache.get(word)
        if cached is None:
            cached = self._lookup_query_terms(word)
            if len(self._query_cache) < CACHE_LIMIT:
                self._query_cache[word] = cached
        return cached

    def _lookup_query_terms(self, word: str) -> tuple[tuple[str, float], ...]:
        terms = [t for t in self._word_terms(word) if t in self.idf]
        if terms:
            return tuple((t, 1.0) for t in terms)
        stem = self._stem(word)
        if len(stem) < MIN_FUZZY_LEN <= len(word):
            stem = word  # a typo can cut the stem short ("kosrer" -> "kosr"): try the word
        if len(stem) >= MIN_FUZZY_LEN:
            hit = process.extractOne(
                stem, self._choices, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF
            )
            if hit is not None and hit[0] in self.idf:
                return ((hit[0], hit[1] / 100.0),)
            parts = self._fuzzy_compound(word)
            if parts:
                return parts
        return ()

    def _fuzzy_compound(self, word: str) -> tuple[tuple[str, float], ...]:
        """A misspelt compound: split it where both sides are close to known parts."""
        if self.lang != "nb" or len(word) < 8:
            return ()
        for i in range(len(word) - 4, 3, -1):
            head = process.extractOne(
                word[:i].rstrip("s"), self._choices, scorer=fuzz.ratio, score_cutoff=85
            )
            tail = process.extractOne(
                self._stem(word[i:]), self._choices, scorer=fuzz.ratio, score_cutoff=85
            )
            if head and tail and head[0] in self.idf and tail[0] in self.idf:
                return ((head[0], head[1] / 100.0), (tail[0], tail[1] / 100.0))
        return ()

    def _vector(self, terms: Iterable[str]) -> Vector:
        """TF-IDF of an indexed phrase's terms (questions: query_vector)."""
        tf: Counter[str] = Counter(terms)
        return {t: (1 + math.log(c)) * self.idf[t] for t, c in tf.items() if t in self.idf}

    def query_vector(self, words: Iterable[str]) -> tuple[Vector, float]:
        """The question's TF-IDF vector and the share of its words the index knows."""
        counts: dict[str, int] = {}
        weights: dict[str, float] = {}  # a typo's term counts as much as its likeness
        unknown = 0
        variants, stopwords, cache = self.variants, self.stopwords, self._query_cache
        for word in words:
            word = variants.get(word, word)
            if word in stopwords:
                continue
            found = cache.get(word) or self._query_terms(word)
            if not found and len(word) > 2:
                unknown += 1
            for term, weight in found:
                counts[term] = counts.get(term, 0) + 1
                if weight > weights.get(term, 0.0):
                    weights[term] = weight
        idf = self.idf  # every term found is in it
        vector = {t: (1 + math.log(c)) * idf[t] * weights[t] for t, c in counts.items()}
        known = sum(vector.values())
        # An unknown word weighs like the rarest known one: "kva er klokka" is not about groups
        # just because "kva er" occurs in many questions.
        coverage = known / (known + unknown * self.max_idf) if known else 0.0
        return vector, coverage

    def rank(self, words: Iterable[str], limit: int = 3) -> tuple[list[Ranked], float, float]:
        """The best `limit` topics for a question's words, best first (ties by topic id), the
        off-topic pseudo-topic's score, and the share of the question the index knows."""
        query, coverage = self.query_vector(words)
        query_norm = math.sqrt(sum(w * w for w in query.values()))
        if not query_norm:
            return [], 0.0, coverage
        rows = [self._column[t] for t in query]
        weights = np.fromiter(query.values(), dtype=float, count=len(rows))
        weights *= math.sqrt(coverage) / query_norm
        scored = weights @ self._matrix[rows]
        best_example = np.maximum.reduceat(scored[: self._n_examples], self._example_starts)
        rounded = np.round(best_example + scored[self._n_examples :], 4)
        offtopic = 0.0
        if self._offtopic_row is not None:
            offtopic = float(rounded[self._offtopic_row])
            rounded[self._offtopic_row] = 0.0
        # Only the top few (and any tied with the last of them) become objects.
        cut = np.partition(rounded, -limit)[-limit] if len(rounded) > limit else 0.0
        best = np.flatnonzero(rounded >= cut) if cut > 0.0 else np.flatnonzero(rounded > 0.0)
        ranked = [Ranked(self._topic_ids[j], float(rounded[j])) for j in best]
        ranked.sort(key=lambda r: (-r.score, r.topic_id))
        return ranked[:limit], offtopic, coverage


class FaqIndex:
    """Ranks FAQ topics for a free-text question, in the question's own language."""

    def __init__(
        self,
        content: Content,
        models: dict[str, LinearModel] | None = None,
        featurizer: Featurizer | None = None,
    ) -> None:
        lexicon = content.lexicon
        # The trained topic model (flows/models/topics.npz) ranks when it could be read;
        # `models` replaces the content's ({} for TF-IDF alone, as the benchmarks compare).
        self.model = (content.models if models is None else models).get("topics")
        # One reading of the lexicon's word maps for the model and the TF-IDF index alike:
        # nynorsk/dialect -> bokmål, and every place name -> one word.
        self.featurizer = featurizer or Featurizer.from_lexicon(lexicon)
        variants = self.featurizer.variants
        classes = self.featurizer.shared
        # "jeg er 19", "my son is 15": a number a person could be is read as age.
        self._age_words = {str(k): str(v) for k, v in (lexicon.get("age_word") or {}).items()}
        # Emoji that stand for a word ("🏳️‍🌈 velkommen?"): read as that word.
        self._emoji = tuple((str(k), str(v)) for k, v in (lexicon.get("emoji") or {}).items())
        # A whole question run together ("erdetgratisellerhva") is read as its words too: the
        # crisis detector's splitter, given by bot.composition (None: not split).
        self.unjoin: Callable[[list[str]], tuple[list[str], int]] | None = None
        parts = [str(p) for p in lexicon.get("compound_parts") or ()]
        self._hints = {lang: self.featurizer.hints.get(lang, frozenset()) for lang in LANGUAGES}
        self._smalltalk = {
            " ".join(tokens(normalise(str(phrase)))): kind
            for kind, phrases in (lexicon.get("smalltalk") or {}).items()
            for phrase in phrases
        }
        behalf = lexicon.get("behalf") or {}
        self._behalf = {
            lang: re.compile("|".join(f"(?:{p})" for p in behalf.get(lang) or ()) or r"(?!x)x")
            for lang in LANGUAGES
        }
        # A question word and nothing else ("hvor?", "when"): too little to answer, so the
        # topics that word most often asks about are offered (added after blind29; the topic
        # ids are checked when the content is loaded).
        self._bare_questions = {
            str(word): tuple(str(t) for t in topics)
            for word, topics in (lexicon.get("bare_questions") or {}).items()
        }
        self._smalltalk_words: dict[str, str] = {}
        for kind, ws in (lexicon.get("smalltalk_words") or {}).items():
            for w in ws or ():
                if self._smalltalk_words.get(str(w), "filler") == "filler":
                    self._smalltalk_words[str(w)] = str(kind)  # a kind wins over filler
        stop = lexicon.get("stopwords") or {}
        offtopic = lexicon.get("offtopic") or {}
        anchors = lexicon.get("anchors") or {}
        # Word beginnings of either language: a question is anchored by any of them.
        self._anchor_starts = tuple(
            str(a) for lang in LANGUAGES for a in anchors.get(lang, ()) or ()
        )
        self._indexes = {
            lang: _LanguageIndex(
                lang,
                content,
                {**(variants if lang == "nb" else {}), **classes},
                parts,
                frozenset(str(w) for w in stop.get(lang, ())),
                [str(p) for p in offtopic.get(lang, ()) or ()],
            )
            for lang in LANGUAGES
        }

    def bare_question(self, reading: Reading) -> tuple[str, ...]:
        """The topics to offer when the message is one question word alone, else ()."""
        if len(reading.words) != 1:
            return ()
        word = reading.words[0]  # «kor», «åssen»: read as bokmål, as the matcher reads them
        return self._bare_questions.get(self.featurizer.variants.get(word, word), ())

    def read(self, text: str, fallback_lang: str, firm: bool = False) -> Reading:
        """Normalise and split the message once, for everything asked of it below. `firm`: the
        fallback is a chosen or held chat language, which a short message's weak evidence does
        not overrule (bot/chat/language.py)."""
        words = tuple(tokens(normalise(replace_marks(text, self._emoji))))
        if self.unjoin is not None and len(words) == 1 and len(words[0]) >= JOINED_MIN_LEN:
            words = tuple(self.unjoin(list(words))[0])
        if any(w.isdigit() for w in words):
            words = self._ages(words)
        if "me" in words:  # "bli me", "vær me": dialect for "med"
            words = tuple(
                "med" if w == "me" and i and words[i - 1] in _WITH_BEFORE else w
                for i, w in enumerate(words)
            )
        hints_en, hints_nb = self._hints["en"], self._hints["nb"]
        # "i" is English "I" but also Norwegian "in": it counts half.
        en = sum((0.5 if w == "i" else 1.0) for w in words if w in hints_en)
        nb = sum(w in hints_nb for w in words)
        lang = "en" if en > nb else "nb" if nb > en else fallback_lang
        lang = chat_language.reply_language(lang, len(words), en, nb, fallback_lang, firm)
        return Reading(words, lang, self._smalltalk_kind(words), abs(en - nb))

    def _ages(self, words: tuple[str, ...]) -> tuple[str, ...]:
        """A number from 13 to 99 said of a person ("er 19", "is 15", "19 år") -> age."""
        out = list(words)
        for i, w in enumerate(words):
            if not (w.isdigit() and 13 <= int(w) <= 99):
                continue
            before = words[i - 1] if i else ""
            after = words[i + 1] if i + 1 < len(words) else ""
            if after in _NOT_AGE_AFTER:
                continue  # "17 times 23" is arithmetic
            if before in _AGE_BEFORE or after in _AGE_AFTER:
                out[i] = self._age_words.get("en" if before in _AGE_BEFORE_EN else "nb", w)
        return tuple(out)

    def smalltalk_guess(self, words: Iterable[str]) -> str:
        """Which small talk a message the model calls small talk is: thanks, bye or hello."""
        kinds = {self._smalltalk_words.get(w) for w in words}
        return next((k for k in ("thanks", "bye") if k in kinds), "greeting")

    def _smalltalk_kind(self, words: tuple[str, ...]) -> str | None:
        """'thanks', 'bye' or 'greeting' when that is all a short message says
        ("tusen takk, det var nyttig", "hello there", "ha det bra, snakkes")."""
        exact = self._smalltalk.get(" ".join(words))
        if exact is not None or not words or len(words) > 10:
            return exact
        kinds = [self._smalltalk_words.get(w) for w in words]
        if any(k is None for k in kinds):
            return None
        found = {k for k in kinds if k != "filler"}
        for kind in ("thanks", "bye", "greeting"):
            if kind in found:
                return kind
        return None

    def for_someone_else(self, text: str) -> bool:
        """Whether the question speaks of another person ("kan jeg melde på mora mi?")."""
        words = " ".join(tokens(normalise(text)))
        return any(pattern.search(words) for pattern in self._behalf.values())

    def detect_language(self, text: str, fallback: str) -> str:
        """'en' or 'nb' by function words; `fallback` (the chat's language) when it is a tie."""
        return self.read(text, fallback).lang

    def features(self, reading: Reading) -> list[str]:
        """What the trained topic model reads of a question."""
        return self.featurizer.features(reading.words, reading.lang)

    def rank(self, reading: Reading, limit: int = 3) -> Match:
        """Rank topics for a question read; its language decides the index and reply language.

        With the trained model, topics are ranked by its probabilities (and `offtopic` is its
        probability of `_offtopic`); the TF-IDF index still says how much of the question it
        knows (`coverage`), which tells gibberish from a question."""
        ranked, offtopic, coverage = self._indexes[reading.lang].rank(reading.words, limit)
        if coverage < MIXED_COVERAGE:
            # "is it gratis?", "my norsk er ikke så god": mixed Norwegian and English. The other
            # language's index may know the words; the reply stays in the question's language.
            other = "nb" if reading.lang == "en" else "en"
            ranked2, offtopic2, coverage2 = self._indexes[other].rank(reading.words, limit)
            better = ranked2 and (not ranked or ranked2[0].score > ranked[0].score)
            if coverage2 > coverage and better:
                ranked, offtopic, coverage = ranked2, offtopic2, coverage2
        anchored = self.anchored(reading.words)
        if self.model is not None:
            probabilities = self.model.ranked(self.features(reading))
            special = {c: p for c, p in probabilities if c in (OFFTOPIC, SMALLTALK)}
            best = [Ranked(c, round(p, 4)) for c, p in probabilities if c not in special]
            return Match(
                reading.lang,
                tuple(best[:limit]),
                special.get(OFFTOPIC, 0.0),
                coverage,
                anchored,
                trained=True,
                smalltalk=special.get(SMALLTALK, 0.0),
            )
        return Match(reading.lang, tuple(ranked), offtopic, coverage, anchored)

    def anchored(self, words: Iterable[str]) -> bool:
        """Whether the words name something that belongs to self-help groups (either language:
        "gruppe", "selvhjelp", "igangsetter", ...), by word start."""
        starts = self._anchor_starts
        return any(w.startswith(starts) for w in words)

    def match(self, text: str, fallback_lang: str, limit: int = 3) -> Match:
        """Rank topics for `text`; the language decides which index (and reply language)."""
        return self.rank(self.read(text, fallback_lang), limit)
