"""An inference model rebuilt from an export: its card's config and its SavedModel's weights.

This lets `charkeras export` rebuild an export with the installed charkeras (newer graphs, an int8
file added later) without the training run.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from charkeras.artifact.card import card_vocabulary, read_card
from charkeras.artifact.layout import version_dir
from charkeras.config import CharConfig
from charkeras.errors import ModelLoadError
from charkeras.model.networks import build_inference_model


def inference_model_from_export(base: Path):
    """(inference model, config, vocab, card), weights matched by variable path
    (embedding/embeddings, ...)."""
    card = read_card(base)
    vocab = card_vocabulary(card, base)
    config = CharConfig.from_dict(card["config"])
    model = build_inference_model(config.model)
    try:
        loaded = tf.saved_model.load(str(version_dir(base, card)))
        stored = {v.name.removesuffix(":0"): v for v in loaded.signatures["step"].variables}
    except (LookupError, OSError, ValueError, tf.errors.OpError) as exc:
        raise ModelLoadError(
            f"cannot load the SavedModel of {base}: {str(exc).strip().splitlines()[0]}") from None
    for weight in model.weights:
        if weight.path not in stored or tuple(stored[weight.path].shape) != tuple(weight.shape):
            raise ModelLoadError(f"{base} has no weight {weight.path} of shape "
                                 f"{tuple(weight.shape)}: its SavedModel does not match its "
                                 "card.json")
        weight.assign(stored[weight.path].numpy())
    return model, config, vocab, card
