"""The LSTM states a stateful training model carries from batch to batch.

They are not weights (`get_weights` leaves them out), so checkpoints save them through `get_states`
and resuming puts them back with `set_states`. Keras 3 has no `Model.reset_states`: each stateful
layer is reset on its own.

A model trained on several replicas (charkeras/train/distributed/strategy.py) holds one copy of each
state per replica; `get_states` and `set_states` then speak global stream order
(charkeras/model/replica_states.py), so checkpoints hold the same arrays as a one-device model of
the global batch.
"""

from __future__ import annotations

import numpy as np

from charkeras.model import replica_states


def lstm_layers(model) -> list:
    """The stateful LSTM layers of a training model, in order."""
    return [layer for layer in model.layers if getattr(layer, "stateful", False)]


def reset_states(model) -> None:
    for layer in lstm_layers(model):
        layer.reset_state()


def get_states(model) -> list[np.ndarray]:
    """The carried LSTM states (h, c per layer) as numpy arrays, rows in global stream order."""
    variables = _state_variables(model)
    # a collective: every worker calls it at the same point
    if replica_states.is_distributed(variables):
        return replica_states.gather(model, variables)
    return [np.array(s) for s in variables]


def set_states(model, states: list[np.ndarray]) -> None:
    variables = _state_variables(model)
    if len(variables) != len(states):
        raise ValueError(f"expected {len(variables)} state arrays, got {len(states)}")
    if replica_states.is_distributed(variables):
        replica_states.scatter(model, variables, [np.asarray(s) for s in states])
        return
    for var, value in zip(variables, states):
        var.assign(value)


def _state_variables(model) -> list:
    return [s for layer in lstm_layers(model) for s in layer.states]
