"""The TFLite files of an export: conversion of the `step` signature, then a check against the
SavedModel.

Builtin ops only, so an op that would need Flex fails here, not on a phone. Every converted file
runs 200 steps beside the SavedModel before the export is kept: the converter has been seen to drop
weights silently (KERAS-NOTES.md), which only a run shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from charkeras.artifact.layout import TFLITE_FILES
from charkeras.errors import ExportError
from charkeras.probability import softmax
from charkeras.text.vocabulary import Vocabulary

_CHECK_STEPS = 200  # LiteRT-vs-SavedModel steps measured at export time (recorded in card.json)
_FLOAT32_TOLERANCE = 1e-4  # max |logit diff| of the float32 .tflite against the SavedModel


def convert_tflite(saved_model: Path, variant: str) -> bytes:
    """The `step` signature as a .tflite flatbuffer; builtin ops only, so Flex ops fail here, not on
    a phone."""
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=["step"])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "int8":
        # dynamic range: int8 weights, float activations
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    try:
        return converter.convert()
    except Exception as exc:
        # the converter raises several unrelated types; all mean "not convertible"
        raise ExportError(
            f"TFLite conversion ({variant}) failed: {str(exc).splitlines()[0]}") from exc


def check_tflite(saved_model: Path, files: dict[str, Path], vocab: Vocabulary) -> dict[str, dict]:
    """Run each .tflite beside the SavedModel `step` along one text; returns agreement numbers.

    The text is sampled from the SavedModel itself (seeded), so the check follows realistic states.
    Raises ExportError if the float32 model disagrees beyond tolerance or any model returns NaN: the
    converter has been seen to drop weights silently.
    """
    interpreter_class = _lite_interpreter_class()
    loaded = tf.saved_model.load(str(saved_model))
    text = loaded.signatures["generate"](
        prompt=tf.constant(""), num_chars=tf.constant(_CHECK_STEPS), temperature=tf.constant(1.0),
        top_k=tf.constant(0), seed=tf.constant([0, 0]))["text"].numpy().decode("utf-8")
    ids = vocab.encode(text)
    step = loaded.signatures["step"]
    reference = []
    state = tf.zeros([1, *step.structured_input_signature[1]["state"].shape[1:]])
    for i in ids:
        out = step(char_id=tf.constant([i], tf.int32), state=state)
        reference.append(out["logits"].numpy()[0])
        state = out["state"]
    reference = np.array(reference)

    results = {}
    for name, path in files.items():
        runner = interpreter_class(model_path=str(path)).get_signature_runner("step")
        lite_state = np.zeros(state.shape, np.float32)
        logits = []
        for i in ids:
            out = runner(char_id=np.array([i], np.int32), state=lite_state)
            logits.append(out["logits"][0])
            lite_state = out["state"]
        logits = np.array(logits)
        if np.isnan(logits).any():
            raise ExportError(f"{name} returns NaN logits: the TFLite conversion is broken")
        max_diff = float(np.abs(logits - reference).max())
        if name == TFLITE_FILES["float32"] and max_diff > _FLOAT32_TOLERANCE:
            raise ExportError(f"{name} differs from the SavedModel by {max_diff:.2e} (tolerance "
                              f"{_FLOAT32_TOLERANCE:.0e}): the TFLite conversion is broken")
        results[name] = {
            "check_steps": len(ids),
            "max_abs_logit_diff": max_diff,
            "argmax_agreement": float(np.mean(logits.argmax(-1) == reference.argmax(-1))),
            "max_prob_diff": float(np.abs(softmax(logits) - softmax(reference)).max()),
        }
    return results


def _lite_interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter  # optional: the [lite] extra
    except ImportError:  # TensorFlow still ships an interpreter
        return tf.lite.Interpreter
    return Interpreter
