"""The trained models (bot/answers/text_model.py): features, storage, and the bot without them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.train_models import BLIND, MODELS, all_items, inputs
from bot.answers.answering import faq_reply, replies
from bot.answers.faq_index import FaqIndex
from bot.answers.text_model import Featurizer, LinearModel, ModelError, train_softmax
from bot.composition import create_safety
from bot.content import load_content, load_models

CONTENT = load_content()


def test_the_shipped_models_load_and_are_used() -> None:
    assert CONTENT.model_problems == ()
    assert set(CONTENT.models) == {"topics", "crisis"}
    assert FaqIndex(CONTENT).model is not None
    assert create_safety(CONTENT).text_model is not None


def test_the_models_are_trained_on_the_current_data_and_never_on_a_blind_set() -> None:
    """A changed example phrasing or training set needs `python -m bench.train_models`."""
    items = all_items(CONTENT)
    for name in ("topics", "crisis"):
        recorded = CONTENT.models[name].meta["inputs"]
        assert not set(recorded["sources"]) & set(BLIND)
        assert set(recorded["sources"]) <= {str(i["source"]) for i in items}
    # The full fingerprint covers every training text (topics: those with a topic label).
    assert inputs(items)["count"] >= CONTENT.models["topics"].meta["inputs"]["count"]


def test_features_fold_dialect_typos_and_run_together_words() -> None:
    featurizer = Featurizer.from_lexicon(CONTENT.lexicon)
    nynorsk = set(featurizer.features(["kva", "kostar", "det"], "nb"))
    bokmal = set(featurizer.features(["hva", "koster", "det"], "nb"))
    assert "w:hva" in nynorsk  # kva -> hva (flows/lexicon.yaml)
    assert len(nynorsk & bokmal) >= 5
    joined = set(featurizer.features(["villdø"], "nb"))
    assert {"c:<vil", "c:ldø>"} <= joined
    assert featurizer.language(["what", "does", "it", "cost"]) == "en"


def test_a_model_survives_storage_and_refuses_a_broken_file() -> None:
    samples = [["w:a", "w:b"], ["w:a", "w:c"], ["w:d", "w:e"], ["w:d", "w:f"]] * 3
    model = train_softmax(samples, ["x", "x", "y", "y"] * 3, epochs=20, meta={"k": 1})
    again = LinearModel.from_bytes(model.to_bytes())
    assert again.classes == ("x", "y")
    assert again.meta == {"k": 1}
    assert again.ranked(["w:a"])[0][0] == "x"
    assert again.ranked(["w:d"])[0][0] == "y"
    np.testing.assert_allclose(again.probabilities(["w:a"]), model.probabilities(["w:a"]), 1e-2)
    assert again.probabilities(["w:unknown"]).shape == (2,)  # nothing known: the prior
    with pytest.raises(ModelError):
        LinearModel.from_bytes(model.to_bytes()[:100])
    with pytest.raises(ModelError):
        LinearModel.from_bytes(b"not a model at all")


def test_without_readable_models_the_bot_says_so_and_answers_with_patterns(tmp_path: Path) -> None:
    (tmp_path / "topics.npz").write_bytes(b"garbage")
    models, problems = load_models(tmp_path)
    assert models == {}
    assert len(problems) == 2
    assert "topics.npz" in problems[0]
    assert "crisis.npz" in problems[1]
    faq = FaqIndex(CONTENT, models=models)
    crisis = create_safety(CONTENT, models=models)
    assert faq.model is None
    assert crisis.text_model is None
    assert faq_reply("hva koster det å være med?", "nb", faq).topic_id == "cost"
    assert crisis.detect("jeg vil ta livet mitt") == "suicide"


def test_the_shipped_models_exist_in_the_package_folder() -> None:
    assert (MODELS / "topics.npz").is_file()
    assert (MODELS / "crisis.npz").is_file()


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("kva kostar det å vere med", "cost"),
        ("må æ ha henvisning fra legen", "referral"),
        ("is this a therapy thing", "not_treatment"),
        ("kan eg kome sjølv om eg ikkje snakkar godt norsk", "language"),
    ],
)
def test_questions_written_in_many_ways_get_their_topic(text: str, topic: str) -> None:
    reply = faq_reply(text, "nb", FaqIndex(CONTENT))
    assert reply.kind == "answer"
    assert reply.topic_id == topic


def test_small_talk_the_word_lists_do_not_know_is_still_small_talk() -> None:
    reply = faq_reply("takk for hjelpa!", "nb", FaqIndex(CONTENT))
    assert reply.kind == "smalltalk"
    assert reply.smalltalk == "thanks"


def test_the_model_reads_an_indirect_signal_in_nynorsk() -> None:
    crisis = create_safety(CONTENT)
    text = "har samla på meg tablettar i fleire veker no og eg veit kva eg skal gjere med dei"
    found = crisis.assess(text)
    assert found is not None
    assert found.kind in ("suicide", "medical")
    faq = FaqIndex(CONTENT)
    first = replies(text, "nb", faq, crisis)[0]
    assert first.kind == "crisis"
