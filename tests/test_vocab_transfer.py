"""The merged vocabulary of a run started from a base model, and its grown weights."""

import numpy as np
import pytest

from charkeras.config import ModelConfig
from charkeras.errors import CorpusError, ModelLoadError
from charkeras.model.vocab_transfer import (
    BaseModel,
    grow_weights,
    id_counts,
    merge_vocabularies,
    remap_ids,
    start_weights,
)
from charkeras.text.vocabulary import Vocabulary


def test_merge_keeps_base_ids_appends_new_chars_in_corpus_order_and_keeps_unused():
    base = Vocabulary(list("eta"))
    corpus = Vocabulary.from_text("zzzz1tt e")  # z, t, then ' ', 1, e tied -> code point order
    merged = merge_vocabularies(base, corpus)
    assert merged.vocab.chars == list("eta") + ["z", " ", "1"]
    assert [merged.vocab.encode(c)[0] for c in "eta"] == [base.encode(c)[0] for c in "eta"]
    assert merged.added == ("z", " ", "1")
    assert merged.unused == ("a",)
    assert merged.origins() == {"base_tokens": 5, "added": ["z", " ", "1"], "base_unused": ["a"]}


def test_merge_with_nothing_new_is_the_base_vocabulary():
    base = Vocabulary(list("abc"))
    merged = merge_vocabularies(base, Vocabulary.from_text("cab"))
    assert merged.vocab == base and merged.added == () and merged.unused == ()


def test_merge_past_the_id_cache_limit_is_an_error():
    base = Vocabulary([chr(0x4E00 + i) for i in range(65_000)])
    corpus = Vocabulary([chr(0x20 + i) for i in range(600)])
    with pytest.raises(CorpusError, match="at most 65533"):
        merge_vocabularies(base, corpus)


def test_remap_ids_reencodes_through_the_merged_vocabulary_and_widens_the_dtype():
    base = Vocabulary([chr(0x100 + i) for i in range(300)])  # 302 tokens: uint16
    text = "hello " + chr(0x105)
    corpus = Vocabulary.from_text(text)
    assert corpus.id_dtype == np.uint8
    merged = merge_vocabularies(base, corpus).vocab
    ids = remap_ids(corpus.encode(text, dtype=corpus.id_dtype), corpus, merged)
    assert ids.dtype == np.uint16
    np.testing.assert_array_equal(ids, merged.encode(text))
    assert merged.decode(ids) == text


def _weights(vocab_size, embedding_dim=4, units=3, seed=0):
    rng = np.random.default_rng(seed)
    return {"embedding": [rng.standard_normal((vocab_size, embedding_dim)).astype(np.float32)],
            "lstm_0": [np.ones((embedding_dim, 4 * units), np.float32)],
            "logits": [rng.standard_normal((units, vocab_size)).astype(np.float32),
                       rng.standard_normal(vocab_size).astype(np.float32)]}


def test_grow_weights_keeps_every_base_weight_and_adds_one_row_and_unit_per_new_char():
    merged = merge_vocabularies(Vocabulary(list("abc")), Vocabulary.from_text("aaxyb"))
    weights = _weights(5)
    counts = np.array([0, 0, 2, 1, 0, 1, 1])
    grown = grow_weights(weights, merged, counts)
    (embedding,) = grown["embedding"]
    kernel, bias = grown["logits"]
    assert embedding.shape == (7, 4) and kernel.shape == (3, 7) and bias.shape == (7,)
    assert embedding.dtype == kernel.dtype == bias.dtype == np.float32
    np.testing.assert_array_equal(embedding[:5], weights["embedding"][0])
    np.testing.assert_array_equal(kernel[:, :5], weights["logits"][0])
    np.testing.assert_array_equal(bias[:5], weights["logits"][1])
    assert grown["lstm_0"] is weights["lstm_0"]
    assert np.isfinite(embedding).all() and np.isfinite(bias).all()


def test_frequency_init_starts_new_rows_at_the_mean_and_biases_by_log_frequency():
    merged = merge_vocabularies(Vocabulary(list("ab")), Vocabulary.from_text("abxy"))
    weights = _weights(4)
    # base chars a, b: bias - log(freq) = offset 1.0 for both; x is 4 times as frequent as y
    counts = np.array([0, 0, 40, 40, 16, 4])
    log_freq = np.log(counts[2:] / counts.sum())
    weights["logits"][1][2:] = log_freq[:2] + 1.0
    grown = grow_weights(weights, merged, counts)
    (embedding,) = grown["embedding"]
    kernel, bias = grown["logits"]
    np.testing.assert_allclose(bias[4:], log_freq[2:] + 1.0, rtol=1e-6)
    np.testing.assert_allclose(kernel[:, 4], kernel[:, 2:4].mean(axis=1), rtol=1e-6)
    base_rows = weights["embedding"][0][2:4]
    assert np.abs(embedding[4] - base_rows.mean(axis=0)).max() <= base_rows.std(axis=0).max()


def test_frequency_init_gives_a_char_missing_from_the_training_text_a_finite_low_bias():
    merged = merge_vocabularies(Vocabulary(list("ab")), Vocabulary.from_text("abx"))
    counts = np.array([0, 0, 10, 10, 0])  # x only in the validation text
    bias = grow_weights(_weights(4), merged, counts)["logits"][1]
    assert np.isfinite(bias[4]) and bias[4] < bias[2:4].min()


def test_weights_that_do_not_fit_the_base_vocabulary_are_an_error():
    merged = merge_vocabularies(Vocabulary(list("ab")), Vocabulary.from_text("abx"))
    with pytest.raises(ModelLoadError, match="does not match"):
        grow_weights(_weights(5), merged, np.ones(5, dtype=int))



def test_shape_conflicts_name_only_the_given_options_that_differ():
    base = BaseModel(ModelConfig(layers=2, units=512, embedding_dim=64), Vocabulary(list("ab")), {}, {})
    cfg = ModelConfig(layers=2, units=256, embedding_dim=32)
    assert base.shape_conflicts(cfg, {"units", "layers"}) == ["--units 256 (the base has 512)"]
    assert base.shape_conflicts(cfg, set()) == []
    assert base.shape() == {"layers": 2, "units": 512, "embedding_dim": 64}


def test_start_weights_counts_the_training_ids():
    merged = merge_vocabularies(Vocabulary(list("ab")), Vocabulary.from_text("abx"))
    base = BaseModel(ModelConfig(vocab_size=4), Vocabulary(list("ab")), _weights(4), {})
    ids = merged.vocab.encode("aabx")
    assert list(id_counts(ids, 5)) == [0, 0, 2, 1, 1]
    grown = start_weights(base, merged, ids)
    assert grown["embedding"][0].shape[0] == 5
