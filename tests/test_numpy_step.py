"""The numpy step behind the samples `fit` prints reads a training model's weights, and sampling through it
follows the in-graph sampler (its one-step equality: tests/test_step_functions.py)."""

import numpy as np
import pytest
from model_factory import TEXT, random_step_model

from charkeras.model.numpy_step import NumpyStep
from charkeras.model.step_functions import written_out_step_fn
from charkeras.sampling.graph_sampler import generate_ids
from charkeras.sampling.numpy_sampler import generate_ids_numpy
from charkeras.text.vocabulary import Vocabulary

tf = pytest.importorskip("tensorflow")


def test_the_numpy_step_reads_the_lstm_weights_of_a_training_model():
    from charkeras.model.networks import build_training_model
    from charkeras.model.weights import inference_model_from

    vocab = Vocabulary.from_text(TEXT)
    _, cfg = random_step_model(vocab, units=8, layers=2)
    training = build_training_model(cfg.model, batch_size=2, seq_len=5, seed=3)
    state = np.random.default_rng(0).normal(size=(3, 4, 8)).astype(np.float32)
    ids = np.array([1, 4, 9], np.int32)
    logits, _ = NumpyStep.from_model(training, 2)(ids, state)
    expected, _ = NumpyStep.from_model(inference_model_from(training, cfg.model), 2)(ids, state)
    np.testing.assert_array_equal(logits, expected)


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_numpy_sampling_draws_the_ids_the_graph_sampler_draws(temperature):
    vocab = Vocabulary.from_text(TEXT)
    model, _ = random_step_model(vocab, units=16, layers=2, seed=5)
    prime = vocab.encode("ROMEO:").reshape(1, -1)
    state = np.zeros((1, 4, 16), np.float32)

    @tf.function
    def graph(prime):
        return generate_ids(written_out_step_fn(model, 2), prime, tf.constant(state), 200, temperature, 0,
                            tf.constant([7, 30]))

    expected = graph(tf.constant(prime)).numpy()
    ids = generate_ids_numpy(NumpyStep.from_model(model, 2), prime, state, 200, temperature, 0, (7, 30))
    assert len(set(ids[0].tolist())) > 3  # a real sample, not one repeated id
    np.testing.assert_array_equal(ids, expected)
