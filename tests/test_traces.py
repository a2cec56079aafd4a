"""Tracing a model over a text: per-character tanh(c), h and top-k guesses from the step interface."""

import numpy as np
import pytest
from stub_models import PlantedCellModel, stub_vocab

from charkeras.errors import CorpusError
from charkeras.inspect.traces import top_guesses, trace
from charkeras.probability import softmax
from charkeras.text.reading import read_text
from charkeras.text.vocabulary import PAD_ID, UNK_ID

TEXT = 'He said "yes (and no)".\nShe said "no".\n'


@pytest.fixture
def stub():
    return PlantedCellModel(stub_vocab(TEXT), layers=2, units=8, seed=3)


def _manual_states(model, text):
    """The states after each character, stepping the model by hand."""
    state = model.zero_state(1)
    out = []
    for cid in model.vocab.encode(text):
        logits, state = model.step(np.array([cid], np.int32), state)
        out.append((logits[0], state[0].copy()))
    return out


def test_trace_records_tanh_c_and_h_from_the_state_layout(stub):
    t = trace(stub, TEXT)
    manual = _manual_states(stub, TEXT)
    assert t.cells.shape == t.hidden.shape == (len(TEXT), 2, 8)
    for i, (_, state) in enumerate(manual):
        np.testing.assert_allclose(t.cells[i], np.tanh(state[1::2]), rtol=1e-6)  # c0, c1
        np.testing.assert_allclose(t.hidden[i], state[0::2], rtol=1e-6)  # h0, h1
    assert t.activations("c") is t.cells and t.activations("h") is t.hidden


def test_trace_guesses_are_the_likeliest_real_characters(stub):
    t = trace(stub, TEXT, top_k=5)
    manual = _manual_states(stub, TEXT)
    ids = stub.vocab.encode(TEXT)
    for i, (logits, _) in enumerate(manual):
        probs = softmax(logits[None])[0]
        real = [j for j in np.argsort(-probs) if j not in (PAD_ID, UNK_ID)][:5]
        assert list(t.top_ids[i]) == real
        np.testing.assert_allclose(t.top_probs[i], probs[real], rtol=1e-6)
        if i + 1 < len(TEXT):
            assert t.next_probs[i] == pytest.approx(probs[ids[i + 1]], rel=1e-6)
    assert np.isnan(t.next_probs[-1])
    assert np.all(np.diff(t.top_probs, axis=1) <= 0)


def test_top_guesses_skip_padding_and_unknown_even_when_likeliest():
    probs = np.array([[0.5, 0.3, 0.05, 0.1, 0.05]], np.float32)
    ids, p = top_guesses(probs, 5)
    assert ids.tolist() == [[3, 2, 4]]  # only three real characters exist
    np.testing.assert_allclose(p, [[0.1, 0.05, 0.05]])


def test_unknown_characters_are_read_as_unknown_not_dropped(stub):
    text = "said \u00e9\U0001F600 yes"
    t = trace(stub, text)
    assert len(t.ids) == len(t.text) == len(text)
    assert t.ids[5] == UNK_ID and t.ids[6] == UNK_ID


def test_head_cuts_every_array_and_the_last_next_probability(stub):
    t = trace(stub, TEXT).head(10)
    assert t.text == TEXT[:10]
    assert len(t.ids) == len(t.cells) == len(t.hidden) == len(t.top_ids) == len(t.next_probs) == 10
    assert np.isnan(t.next_probs[-1]) and not np.isnan(t.next_probs[-2])


def test_trace_rejects_states_that_do_not_match_layers_and_units(stub):
    stub.zero_state = lambda batch: np.zeros((batch, 4, 8), np.float32)
    stub.units = 9  # claims more units than its states have
    with pytest.raises(ValueError, match="zero state has shape"):
        trace(stub, TEXT)
    stub.units = 8
    stub.step = lambda ids, state: (np.zeros((1, len(stub.vocab))), np.zeros((1, 4, 7)))
    with pytest.raises(ValueError, match="returned a state of shape"):
        trace(stub, TEXT)


def test_read_text_errors_are_one_line_user_errors(tmp_path):
    good = tmp_path / "t.txt"
    good.write_text("abc\u00e9def", encoding="utf-8")
    assert read_text(good, max_chars=4) == "abc\u00e9"
    assert read_text(good, "latin-1").startswith("abc\u00c3")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok \xff\xfe")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    empty_dir = tmp_path / "no-files"
    empty_dir.mkdir()
    for path, kwargs, message in [(tmp_path / "missing.txt", {}, "not found"), (bad, {}, "not valid utf-8"),
                                  (empty, {}, "empty"), (empty_dir, {}, "holds no files"),
                                  (good, {"encoding": "nope"}, "unknown --encoding"),
                                  (good, {"max_chars": 0}, "--max-chars")]:
        with pytest.raises(CorpusError, match=message):
            read_text(path, **kwargs)


@pytest.mark.slow
def test_trace_of_a_keras_step_model_matches_the_sequence_lstm():
    """The trace's h per layer equals what the training model's LSTM layers output over the same text:
    an independent path (whole-sequence LSTM layers) through the same weights."""
    import keras

    from charkeras.config import ModelConfig
    from charkeras.model.networks import build_inference_model, build_training_model, lstm_name
    from charkeras.model.weights import transfer_weights

    vocab = stub_vocab(TEXT)
    cfg = ModelConfig(vocab_size=len(vocab), embedding_dim=4, units=6, layers=2, dropout=0.0)
    train_model = build_training_model(cfg, batch_size=1, seed=7)
    step_model = build_inference_model(cfg)
    transfer_weights(train_model, step_model, cfg)

    class KerasStep:
        layers, units = cfg.layers, cfg.units

        def __init__(self):
            self.vocab = vocab

        def zero_state(self, batch):
            return np.zeros((batch, 2 * cfg.layers, cfg.units), np.float32)

        def step(self, ids, state):
            out = step_model({"char_id": ids, "state": state}, training=False)
            return np.asarray(out["logits"]), np.asarray(out["state"])

    t = trace(KerasStep(), TEXT)
    probe = keras.Model(train_model.inputs, [train_model.get_layer(lstm_name(i)).output for i in range(2)])
    outputs = probe({"char_ids": vocab.encode(TEXT)[None]}, training=False)
    for layer in range(2):
        np.testing.assert_allclose(t.hidden[:, layer], np.asarray(outputs[layer])[0], atol=1e-5)
    assert np.all(np.abs(t.cells) <= 1.0)
