"""The written-out step used inside in-graph loops, and the numpy step of fit's samples, equal the Keras step model."""

import numpy as np
import pytest
from model_factory import TEXT, random_step_model

from charkeras.model.numpy_step import NumpyStep
from charkeras.model.step_functions import inference_model_step_fn, written_out_step_fn
from charkeras.text.vocabulary import Vocabulary

tf = pytest.importorskip("tensorflow")


def _written_out(model, layers):
    @tf.function
    def step(ids, state):
        return written_out_step_fn(model, layers)(ids, state)

    return lambda ids, state: tuple(t.numpy() for t in step(tf.constant(ids), tf.constant(state)))


def _numpy(model, layers):
    return NumpyStep.from_model(model, layers)  # fit's samples (charkeras/model/numpy_step.py)


@pytest.mark.parametrize("make_step", [_written_out, _numpy])
@pytest.mark.parametrize("layers", [1, 3])
def test_one_step_matches_the_keras_step_model_from_any_state(layers, make_step):
    vocab = Vocabulary.from_text(TEXT)
    model, _ = random_step_model(vocab, units=12, layers=layers, seed=layers)
    rng = np.random.default_rng(layers)
    ids = rng.integers(0, len(vocab), size=7).astype(np.int32)
    state = rng.normal(size=(7, 2 * layers, 12)).astype(np.float32)

    expected_logits, expected_state = inference_model_step_fn(model)(tf.constant(ids), tf.constant(state))
    logits, new_state = make_step(model, layers)(ids, state)
    np.testing.assert_allclose(logits, expected_logits.numpy(), atol=1e-5)
    np.testing.assert_allclose(new_state, expected_state.numpy(), atol=1e-5)


def test_a_500_step_loop_follows_the_keras_step_model_and_sees_weight_changes():
    vocab = Vocabulary.from_text(TEXT)
    step, _ = random_step_model(vocab, units=16, layers=2)
    ids = tf.constant(vocab.encode(TEXT[:500]).reshape(-1, 1))

    def run(step_fn):
        def body(i, state, out):
            logits, state = step_fn(ids[i], state)
            return i + 1, state, out.write(i, logits[0])

        out = tf.TensorArray(tf.float32, size=500)
        _, _, out = tf.while_loop(lambda i, *_: i < 500, body, (0, tf.zeros([1, 4, 16]), out))
        return out.stack()

    written_out = tf.function(lambda: run(written_out_step_fn(step, 2)))
    keras_loop = tf.function(lambda: run(inference_model_step_fn(step)))
    before = written_out().numpy()
    np.testing.assert_allclose(before, keras_loop().numpy(), atol=1e-4)

    # The prepared weights are derived at each call, so a weight set after tracing takes effect.
    cell = step.get_layer("lstm_0")
    cell.bias.assign(cell.bias.numpy() + 1.0)
    changed = written_out().numpy()
    np.testing.assert_allclose(changed, keras_loop().numpy(), atol=1e-4)
    assert np.abs(changed - before).max() > 1e-2
