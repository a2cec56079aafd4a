"""The LSTM states a stateful training model carries from batch to batch.

They are not weights (`get_weights` leaves them out), so checkpoints save them through `get_states`
and resuming puts them back with `set_states`. Keras 3 has no `Model.reset_states`: each stateful
layer is reset on its own.
"""

from __future__ import annotations

import numpy as np


def lstm_layers(model) -> list:
    """The stateful LSTM layers of a training model, in order."""
    return [layer for layer in model.layers if getattr(layer, "stateful", False)]


def reset_states(model) -> None:
    for layer in lstm_layers(model):
        layer.reset_state()


def get_states(model) -> list[np.ndarray]:
    """The carried LSTM states (h, c per layer) as numpy arrays."""
    return [np.array(s) for layer in lstm_layers(model) for s in layer.states]


def set_states(model, states: list[np.ndarray]) -> None:
    variables = [s for layer in lstm_layers(model) for s in layer.states]
    if len(variables) != len(states):
        raise ValueError(f"expected {len(variables)} state arrays, got {len(states)}")
    for var, value in zip(variables, states):
        var.assign(value)
