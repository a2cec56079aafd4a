"""The two networks that share one set of weights.

- Training model: Embedding -> [LSTM(stateful, return_sequences) -> Dropout] x L -> Dense(vocab)
  logits, with a fixed batch size (stateful LSTMs need it).
- Inference model: the same layer names built from LSTMCells; one character in, explicit state in
  and out, free batch dimension. It is pure CPU graph code, so an export traced from it runs
  anywhere.

State layout of the inference model: float32 [batch, 2 * layers, units] = (h0, c0, h1, c1, ...).
"""

from __future__ import annotations

import contextlib
import random

import keras
import numpy as np

from charkeras.config import ModelConfig
from charkeras.model.fused_lstm import FusedLSTM, resolve_layout, resolve_lstm_impl
from charkeras.model.replica_dropout import ReplicaDropout


def lstm_name(i: int) -> str:
    return f"lstm_{i}"


def training_layout(cfg: ModelConfig, batch_size: int) -> str:
    """cfg.lstm_layout, with "auto" replaced by the fused layer's layout timed faster on this CPU
    for `batch_size` streams (per replica); "auto" stays for the keras layer, which has no
    layouts."""
    if resolve_lstm_impl(cfg.lstm_impl) != "fused":
        return cfg.lstm_layout
    return resolve_layout(cfg.lstm_layout, batch_size, cfg.units)


def build_training_model(cfg: ModelConfig, batch_size: int, seq_len: int | None = None,
                         seed: int = 0):
    """The stateful model `fit` trains. Same `seed` gives the same initial weights and dropout
    masks."""
    fused = resolve_lstm_impl(cfg.lstm_impl) == "fused"
    with keras_seeds_from(seed):
        inputs = keras.Input(batch_shape=(batch_size, seq_len), dtype="int32", name="char_ids")
        x = keras.layers.Embedding(cfg.vocab_size, cfg.embedding_dim, name="embedding")(inputs)
        for i in range(cfg.layers):
            layer = (FusedLSTM(cfg.units, layout=cfg.lstm_layout, stateful=True,
                               return_sequences=True, name=lstm_name(i)) if fused else
                     keras.layers.LSTM(cfg.units, stateful=True, return_sequences=True,
                                       name=lstm_name(i)))
            x = layer(x)
            if cfg.dropout > 0:
                # keras.layers.Dropout on one device; each replica its own masks on several
                x = ReplicaDropout(cfg.dropout, seed=seed + i, name=f"dropout_{i}")(x)
        logits = keras.layers.Dense(cfg.vocab_size, name="logits")(x)
        return keras.Model(inputs, logits, name="charkeras_train")


@contextlib.contextmanager
def keras_seeds_from(seed: int):
    """Build layers whose initial weights depend on `seed` only, leaving the process's random state
    alone.

    Keras draws the seed of every initializer and seed generator made without one from Python's
    global `random` (keras.src.random.seed_generator.make_default_seed); nothing else it draws while
    building uses a global generator. So seeding `random` for the build and restoring the caller's
    state afterwards gives the weights `keras.utils.set_random_seed(seed)` gave (checked by
    tests/test_process_state.py) without reseeding Python, NumPy or TensorFlow for the rest of the
    process.
    """
    saved = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(saved)


def build_inference_model(cfg: ModelConfig, seed: int = 0):
    """One-step inference model: {char_id [B], state [B, 2L, U]} -> {logits [B, V], state [B, 2L,
    U]}.

    Its weights are usually assigned from a training model or an export; `seed` picks the initial
    ones.
    """
    with keras_seeds_from(seed):
        char_id = keras.Input(shape=(), dtype="int32", name="char_id")
        state = keras.Input(shape=(2 * cfg.layers, cfg.units), dtype="float32", name="state")
        x = keras.layers.Embedding(cfg.vocab_size, cfg.embedding_dim, name="embedding")(char_id)
        new_state = []
        for i in range(cfg.layers):
            cell = keras.layers.LSTMCell(cfg.units, name=lstm_name(i))
            x, (h, c) = cell(x, [state[:, 2 * i], state[:, 2 * i + 1]])
            new_state += [h, c]
        logits = keras.layers.Dense(cfg.vocab_size, name="logits")(x)
        outputs = {"logits": logits, "state": keras.ops.stack(new_state, axis=1)}
        return keras.Model({"char_id": char_id, "state": state}, outputs, name="charkeras_step")


def zero_state(cfg: ModelConfig, batch: int) -> np.ndarray:
    return np.zeros((batch, 2 * cfg.layers, cfg.units), dtype=np.float32)


def count_params(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))
