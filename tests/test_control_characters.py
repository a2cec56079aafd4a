"""Control characters are ordinary characters (issue 11, finding 7): a corpus with NUL, \\x01, \\r and
\\t trains, exports and generates in every runtime, and the exported text -> id mapping is the
vocabulary's own. NUL used to become "" (the padding token) on its way into Keras's TextVectorization,
which then refused the vocabulary ("Found reserved mask token")."""

from __future__ import annotations

import random

import numpy as np
import pytest

CONTROL = "\x00\x01\r\t"


def test_the_exported_lookup_gives_the_vocabulary_ids_for_control_characters():
    import tensorflow as tf

    from charkeras.exporting.signatures import text_vectorization
    from charkeras.text.vocabulary import Vocabulary

    rng = random.Random(0)
    alphabet = CONTROL + "\n ab\x7f\u00e9\u4e2d\U0001f600"
    corpus = "".join(rng.choice(alphabet) for _ in range(3000))
    vocab = Vocabulary.from_text(corpus)
    layer = text_vectorization(vocab)
    text = "".join(rng.choice(alphabet + "zq") for _ in range(500))  # z, q: unknown
    ids = layer(tf.constant([text])).numpy()[0]
    np.testing.assert_array_equal(ids, vocab.encode(text))
    assert vocab.encode("\x00")[0] >= 2  # a real character id, never the padding id 0


@pytest.mark.slow
def test_a_corpus_with_control_characters_trains_exports_and_generates(tmp_path):
    from charkeras.config import CharConfig
    from charkeras.exporting.writer import export
    from charkeras.runtime.loading import load
    from charkeras.train.driver import fit

    rng = random.Random(1)
    corpus = tmp_path / "control.txt"
    corpus.write_bytes("".join(rng.choice(CONTROL + "ab c\n") for _ in range(4000)).encode("utf-8"))
    config = CharConfig().replace(model={"units": 8, "layers": 1, "embedding_dim": 4, "dropout": 0.0},
                                  data={"batch_size": 4, "seq_len": 16, "val_frac": 0.2},
                                  train={"epochs": 1, "checkpoint_every": 0, "sample_every": 0})
    fit(corpus, tmp_path / "run", config, verbose=0)
    export(tmp_path / "run", tmp_path / "export")
    models = [load(tmp_path / "run"), load(tmp_path / "export", runtime="savedmodel"),
              load(tmp_path / "export", runtime="tflite")]
    assert all(set(CONTROL) <= set(m.vocab.chars) for m in models)
    texts = [m.generate(300, prime="a\x00\x01", seed=4, temperature=1.0) for m in models]
    assert texts[0] == texts[1] == texts[2]
    assert set(texts[0]) & set(CONTROL)
    scores = [m.score("ab\x00\r\t c\x01") for m in models]
    assert all(count == 7 for _, count in scores)
    np.testing.assert_allclose([nll for nll, _ in scores], scores[0][0], rtol=1e-4)
