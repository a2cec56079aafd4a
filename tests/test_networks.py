import numpy as np

from charkeras.config import ModelConfig
from charkeras.model.carried_state import get_states, reset_states, set_states
from charkeras.model.networks import build_inference_model, build_training_model, zero_state
from charkeras.model.weights import inference_model_from, transfer_weights

CFG = ModelConfig(vocab_size=12, embedding_dim=6, units=10, layers=2, dropout=0.3)


def _step_logits(step, ids, batch):
    state = zero_state(CFG, batch)
    out = []
    for t in range(ids.shape[1]):
        result = step({"char_id": ids[:, t], "state": state})
        out.append(np.asarray(result["logits"]))
        state = np.asarray(result["state"])
    return np.stack(out, axis=1)


def test_step_model_reproduces_training_model_over_a_long_sequence():
    rng = np.random.default_rng(0)
    train = build_training_model(CFG, batch_size=2, seq_len=50, seed=3)
    ids = rng.integers(0, CFG.vocab_size, size=(2, 500)).astype(np.int32)
    # The stateful model sees 10 windows of 50; its carried state links them into one sequence.
    reference = np.concatenate([np.asarray(train(ids[:, i:i + 50], training=False)) for i in range(0, 500, 50)],
                               axis=1)
    step = inference_model_from(train, CFG)
    np.testing.assert_allclose(_step_logits(step, ids, 2), reference, atol=1e-4)


def test_weights_transfer_back_from_step_model():
    train = build_training_model(CFG, batch_size=1, seq_len=5, seed=1)
    step = build_inference_model(CFG)
    before = [w.copy() for w in train.get_weights()]
    transfer_weights(step, train, CFG)
    after = train.get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(before, after))
    np.testing.assert_allclose(after[0], step.get_layer("embedding").get_weights()[0])


def test_states_can_be_read_reset_and_restored():
    train = build_training_model(CFG, batch_size=2, seq_len=4, seed=0)
    train(np.ones((2, 4), np.int32), training=False)
    carried = get_states(train)
    assert len(carried) == 2 * CFG.layers and all(np.abs(s).sum() > 0 for s in carried)
    reset_states(train)
    assert all(np.abs(s).sum() == 0 for s in get_states(train))
    set_states(train, carried)
    for a, b in zip(get_states(train), carried):
        np.testing.assert_array_equal(a, b)


def test_same_seed_same_initial_weights():
    a = build_training_model(CFG, 2, 4, seed=7).get_weights()
    b = build_training_model(CFG, 2, 4, seed=7).get_weights()
    c = build_training_model(CFG, 2, 4, seed=8).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
