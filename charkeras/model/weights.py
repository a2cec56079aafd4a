"""Moving weights between the training model and the inference model, matched by layer name."""

from __future__ import annotations

import numpy as np

from charkeras.config import ModelConfig
from charkeras.model.networks import build_inference_model, lstm_name


def _weight_owner(model, name: str):
    """The object holding a layer's weights; for an LSTM (kernel/recurrent_kernel/bias) the cell of
    an LSTM layer, or the cell itself in the inference model."""
    layer = model.get_layer(name)
    return getattr(layer, "cell", layer)


def layer_names(cfg: ModelConfig) -> list[str]:
    """The names of the layers holding weights, the same in both networks."""
    return ["embedding", *(lstm_name(i) for i in range(cfg.layers)), "logits"]


def layer_weights(model, cfg: ModelConfig) -> dict[str, list[np.ndarray]]:
    """Every weight of a training or inference model as numpy arrays, by layer name: embedding
    [embeddings], lstm_i [kernel, recurrent_kernel, bias] (LSTMCell's layout), logits [kernel,
    bias]."""
    return {name: _weight_owner(model, name).get_weights() for name in layer_names(cfg)}


def set_layer_weights(model, weights: dict[str, list[np.ndarray]], cfg: ModelConfig) -> None:
    """Assign `weights` (as `layer_weights` gives them) to a training or inference model."""
    for name in layer_names(cfg):
        _weight_owner(model, name).set_weights(weights[name])


def transfer_weights(source, target, cfg: ModelConfig) -> None:
    """Copy weights between a training model and an inference model (either direction), by layer
    name."""
    set_layer_weights(target, layer_weights(source, cfg), cfg)


def inference_model_from(training_model, cfg: ModelConfig):
    """A new inference model holding a copy of the training model's weights."""
    model = build_inference_model(cfg)
    transfer_weights(training_model, model, cfg)
    return model
