"""evaluate in parallel streams (charkeras/inspect/stream_scoring.py): every character scored once, the
same total as the exact one-stream score to 1e-4 relative, and a warm-up is what makes it so."""

from pathlib import Path

import numpy as np
import pytest

from charkeras.inspect.stream_scoring import (
    numpy_score_chunk,
    plan_streams,
    score_streams,
    stream_arrays,
)
from charkeras.probability import log_softmax

REPO = Path(__file__).resolve().parents[1]


class NumpyLSTM:
    """A random one-layer LSTM with the CharModel step interface."""

    def __init__(self, vocab=12, units=16, seed=0):
        rng = np.random.default_rng(seed)
        self.layers, self.units, self.v = 1, units, vocab
        self.emb = rng.normal(0, 1, (vocab, 4 * units))
        self.rec = rng.normal(0, 0.3, (units, 4 * units))
        self.out = rng.normal(0, 1, (units, vocab))

    def zero_state(self, batch):
        return np.zeros((batch, 2, self.units), np.float32)

    def step(self, ids, state):
        h, c = state[:, 0], state[:, 1]
        z = self.emb[ids] + h @ self.rec
        i, f, g, o = np.split(z, 4, axis=1)
        sig = lambda x: 1 / (1 + np.exp(-x))
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        return h @ self.out, np.stack([h, c], axis=1).astype(np.float32)

    def exact(self, ids):
        state, total = self.zero_state(1), 0.0
        for i in range(1, len(ids)):
            logits, state = self.step(ids[i - 1:i], state)
            total -= log_softmax(logits)[0, ids[i]]
        return total, len(ids) - 1


@pytest.mark.parametrize("n", [2, 3, 17, 400, 5_000, 111_540])
@pytest.mark.parametrize("streams, warmup", [(64, 200), (7, 0), (1, 50)])
def test_every_character_is_scored_once(n, streams, warmup):
    plan = plan_streams(n, streams, warmup)
    _x, y, mask = stream_arrays(np.arange(n) % 251, plan)
    targets = (plan.starts[:, None] + np.arange(plan.steps)[None, :] + 1)[mask.astype(bool)]
    assert sorted(targets.tolist()) == list(range(1, n)) and plan.scored == n - 1
    np.testing.assert_array_equal(y[mask.astype(bool)], targets % 251)  # the target is the next character
    assert plan.streams == 1 or (plan.first_target - plan.starts).min() >= 1


def test_stream_zero_starts_at_the_text_and_others_read_their_warmup():
    plan = plan_streams(10_000, 8, 100)
    assert plan.starts[0] == 0 and plan.first_target[0] == 1
    assert ((plan.first_target[1:] - 1 - plan.starts[1:]) == 100).all()


def test_same_total_as_the_exact_score_and_the_warmup_matters():
    model = NumpyLSTM()
    ids = np.random.default_rng(1).integers(0, model.v, 6_000)
    exact, count = model.exact(ids)
    fast, fast_count = score_streams(model, ids, streams=16, warmup=100, chunk=37)
    assert fast_count == count and abs(fast - exact) / exact < 1e-4
    cold, _ = score_streams(model, ids, streams=16, warmup=0)
    assert abs(cold - exact) > abs(fast - exact)  # from the zero state the first characters differ


def test_numpy_chunk_counts_only_the_mask():
    model = NumpyLSTM()
    x = np.array([[1, 2, 3]]), np.array([[2, 3, 4]])
    full, _ = numpy_score_chunk(model, *x, np.ones((1, 3), np.float32), model.zero_state(1))
    part, _ = numpy_score_chunk(model, *x, np.array([[0, 1, 1]], np.float32), model.zero_state(1))
    first = -log_softmax(model.step(np.array([1]), model.zero_state(1))[0])[0, 2]
    assert full == pytest.approx(part + first)


@pytest.mark.slow
def test_shipped_export_streams_match_its_score_signature():
    from charkeras.runtime.loading import load

    model = load(REPO / "saved_models" / "shakespeare", "savedmodel")
    text = (REPO / "data" / "tinyshakespeare.txt").read_text(encoding="utf-8")[-20_000:]
    exact, count = model.score(text)
    fast, fast_count = score_streams(model, model.vocab.encode(text))
    assert fast_count == count and abs(fast - exact) / exact < 1e-4


@pytest.mark.parametrize("batch, steps", [(7, 23), (64, 100)])
def test_the_layer_by_layer_chunk_scorer_equals_the_step_signature_in_a_loop(batch, steps):
    """Odd batches split into uneven groups and chunk lengths that are no multiple of the recurrence's
    10-step pieces, from a non-zero state, with some losses masked out."""
    tf = pytest.importorskip("tensorflow")
    from model_factory import TEXT, random_step_model

    from charkeras.exporting.signatures import signature_functions
    from charkeras.runtime.chunk_scoring import (
        inference_weights,
        sequence_chunk_scorer,
        step_chunk_scorer,
    )
    from charkeras.text.vocabulary import Vocabulary

    vocab = Vocabulary.from_text(TEXT)
    model, _ = random_step_model(vocab, units=16, layers=2, seed=batch)
    rng = np.random.default_rng(steps)
    x, y = (rng.integers(2, len(vocab), size=(batch, steps)).astype(np.int32) for _ in range(2))
    mask = (rng.random((batch, steps)) > 0.2).astype(np.float32)
    state = rng.normal(size=(batch, 4, 16)).astype(np.float32)
    step = signature_functions(model, vocab, 2, 16)["step"]
    expected, expected_state = step_chunk_scorer(step, 2, 16)(x, y, mask, state)
    total, new_state = sequence_chunk_scorer(inference_weights(model.weights, 2), 2)(
        tf.constant(x), tf.constant(y), tf.constant(mask), tf.constant(state))
    assert abs(float(total) - float(expected)) / float(expected) < 1e-5
    np.testing.assert_allclose(new_state.numpy(), expected_state.numpy(), atol=1e-5)
