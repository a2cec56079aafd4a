"""The model card written into every export as card.json (read by charkeras/artifact/card.py)."""

from __future__ import annotations

import time

import keras
import tensorflow as tf

from charkeras import __version__
from charkeras.artifact.card import FORMAT, FORMAT_VERSION
from charkeras.artifact.layout import VERSION_DIR
from charkeras.config import CharConfig
from charkeras.text.vocabulary import Vocabulary


def model_card(config: CharConfig, vocab: Vocabulary, params: int, training: dict | None,
               lite: dict, version: str = VERSION_DIR) -> dict:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "charkeras_version": __version__,
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "parameters": params,
        "layers": config.model.layers,
        "units": config.model.units,
        "vocab_size": len(vocab),
        "start_id": vocab.start_id,
        "seed_convention": "seed=s in charkeras means the signature input seed=[s, 0]",
        "config": config.to_dict(),
        "vocabulary": vocab.tokens,
        "training": training,
        "saved_model": {"version_dir": version,
                        "signatures": ["generate", "serving_default", "step", "score",
                                       "vocabulary"]},
        "tflite": lite,
    }
