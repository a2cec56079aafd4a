"""Loading a base model for a run to start from, and starting a bigger-vocabulary model from it."""

import hashlib
from dataclasses import replace

import numpy as np
import pytest

from charkeras.errors import ModelLoadError

SHAKESPEARE_EXPORT = "saved_models/shakespeare"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from stub_models import make_tiny_run

    return make_tiny_run(tmp_path_factory.mktemp("base") / "run")


def test_a_run_gives_its_best_checkpoints_weights_shape_vocabulary_and_lineage(tiny_run):
    from charkeras.model.weights import layer_weights
    from charkeras.runtime.base_loading import load_base
    from charkeras.train.run.loading import inference_model_from_run

    base = load_base(tiny_run)
    inference, config, vocab, chosen = inference_model_from_run(tiny_run)
    assert base.shape() == {"layers": 2, "units": 8, "embedding_dim": 4}
    assert base.vocab == vocab
    expected = layer_weights(inference, config.model)
    assert base.weights.keys() == expected.keys()
    for name, arrays in expected.items():
        for got, want in zip(base.weights[name], arrays, strict=True):
            np.testing.assert_array_equal(got, want)
    lineage = base.lineage
    assert lineage["kind"] == "run" and lineage["path"] == str(tiny_run.resolve())
    assert lineage["checkpoint"] == chosen.name and isinstance(lineage["val_loss"], float)
    assert lineage["weights_sha256"] == hashlib.sha256((chosen / "variables.npz").read_bytes()).hexdigest()


def test_the_shipped_export_is_a_base():
    from charkeras.runtime.base_loading import load_base

    base = load_base(SHAKESPEARE_EXPORT)
    assert base.shape() == {"layers": 2, "units": 512, "embedding_dim": 64}
    assert len(base.vocab) == 67
    assert base.weights["embedding"][0].shape == (67, 64)
    assert base.weights["logits"][0].shape == (512, 67)
    assert base.lineage["kind"] == "export"
    assert base.lineage["val_loss"] == pytest.approx(1.4458, abs=1e-4)
    assert len(base.lineage["weights_sha256"]) == 64


def test_not_a_model_is_one_error(tmp_path):
    from charkeras.runtime.base_loading import load_base

    with pytest.raises(ModelLoadError, match="neither a charkeras export"):
        load_base(tmp_path)


def test_a_model_started_from_the_base_predicts_the_bases_characters_as_the_base_does(tiny_run):
    """Growing the vocabulary changes nothing the base computed: same logits for the base's characters
    at every step of a text in its vocabulary, for the training model built like fit builds it."""
    from charkeras.model.networks import build_inference_model, build_training_model, zero_state
    from charkeras.model.vocab_transfer import merge_vocabularies, start_weights
    from charkeras.model.weights import inference_model_from, set_layer_weights
    from charkeras.runtime.base_loading import load_base
    from charkeras.text.vocabulary import Vocabulary

    base = load_base(tiny_run)
    text = "Before we proceed 42 {any} further"
    merged = merge_vocabularies(base.vocab, Vocabulary.from_text(text))
    assert set(merged.added) == set("42{}")
    cfg = replace(base.model, vocab_size=len(merged.vocab))
    training = build_training_model(cfg, batch_size=1, seq_len=8)
    set_layer_weights(training, start_weights(base, merged, merged.vocab.encode(text)), cfg)
    grown = inference_model_from(training, cfg)
    original = build_inference_model(base.model)
    set_layer_weights(original, base.weights, base.model)
    ids = base.vocab.encode("Before we proceed")
    state_a, state_b = zero_state(base.model, 1), zero_state(cfg, 1)
    for i in ids:
        out_a = original({"char_id": np.array([i]), "state": state_a})
        out_b = grown({"char_id": np.array([i]), "state": state_b})
        state_a, state_b = out_a["state"].numpy(), out_b["state"].numpy()
        np.testing.assert_allclose(out_b["logits"].numpy()[0, :len(base.vocab)], out_a["logits"].numpy()[0],
                                   rtol=1e-5, atol=1e-6)
