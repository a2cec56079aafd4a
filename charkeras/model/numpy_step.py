"""The one-step inference model in numpy, for the samples `fit` prints while it trains.

A sample of a few hundred characters through TensorFlow first has to trace a sampling graph (about
1.5 s at the first epoch end of every run, more than the sample itself takes in numpy); the same
arithmetic in numpy costs nothing up front: three 200-character samples of a 2x256 model took 0.03 s
in all on an idle 2-core AMD EPYC (with both cores busy with other work, numpy's BLAS threads made a
character of 2x512 take up to 8 ms). The samples follow the
sampling rules of charkeras/sampling (numpy_sampler), so they depend only on the weights and the
seed. Results equal the Keras inference model's up to float rounding (tests/test_numpy_step.py).
"""

from __future__ import annotations

import numpy as np

from charkeras.model.networks import lstm_name


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # = 1 / (1 + exp(-x)), without overflow warnings


class NumpyStep:
    """`step(char_ids [B], state [B, 2L, U]) -> (logits [B, V], state)` from a copy of the
    weights."""

    def __init__(self, embedding, lstm_weights, dense_kernel, dense_bias):
        first_kernel, first_recurrent, first_bias = lstm_weights[0]
        # Layer 0's input is one of `vocab` embeddings: its input projection is a table row.
        self.input_table = embedding @ first_kernel + first_bias
        self.recurrent_0 = first_recurrent
        self.stacked = [(np.concatenate([k, r]), b) for k, r, b in lstm_weights[1:]]
        self.dense_kernel, self.dense_bias = dense_kernel, dense_bias
        self.layers = len(lstm_weights)

    @classmethod
    def from_model(cls, model, layers: int) -> NumpyStep:
        """The weights of a training or inference model (layers named as in
        charkeras/model/networks.py)."""
        lstm_weights = []
        for i in range(layers):
            layer = model.get_layer(lstm_name(i))
            lstm_weights.append(
                [np.asarray(w) for w in getattr(layer, "cell", layer).get_weights()])
        dense_kernel, dense_bias = (np.asarray(w) for w in model.get_layer("logits").get_weights())
        return cls(np.asarray(model.get_layer("embedding").get_weights()[0]), lstm_weights,
                   dense_kernel, dense_bias)

    def __call__(self, char_ids: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        state = np.asarray(state, np.float32)
        z = self.input_table[char_ids] + state[:, 0] @ self.recurrent_0
        h, c = _lstm_update(z, state[:, 1])
        new_state = [h, c]
        for i, (kernel, bias) in enumerate(self.stacked, start=1):
            h, c = _lstm_update(np.concatenate([h, state[:, 2 * i]], axis=1) @ kernel + bias,
                                state[:, 2 * i + 1])
            new_state += [h, c]
        return h @ self.dense_kernel + self.dense_bias, np.stack(new_state, axis=1)


def _lstm_update(z: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # keras.layers.LSTMCell's gate order and activations: i, f, g, o.
    i, f, g, o = np.split(z, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c
