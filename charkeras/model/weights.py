"""Moving weights between the training model and the inference model, matched by layer name."""

from __future__ import annotations

from charkeras.config import ModelConfig
from charkeras.model.networks import build_inference_model, lstm_name


def _lstm_weight_owner(model, name: str):
    """The object holding an LSTM's kernel/recurrent_kernel/bias: the cell of an LSTM layer, or a cell."""
    layer = model.get_layer(name)
    return getattr(layer, "cell", layer)


def transfer_weights(source, target, cfg: ModelConfig) -> None:
    """Copy weights between a training model and an inference model (either direction), by layer name."""
    for name in ("embedding", "logits"):
        target.get_layer(name).set_weights(source.get_layer(name).get_weights())
    for i in range(cfg.layers):
        weights = _lstm_weight_owner(source, lstm_name(i)).get_weights()
        _lstm_weight_owner(target, lstm_name(i)).set_weights(weights)


def inference_model_from(training_model, cfg: ModelConfig):
    """A new inference model holding a copy of the training model's weights."""
    model = build_inference_model(cfg)
    transfer_weights(training_model, model, cfg)
    return model
