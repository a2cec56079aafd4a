"""model_web.tflite: the export's `step` signature at batch 1 with static shapes, for LiteRT.js.

LiteRT.js (@litertjs/core 2.5.x) loads an export's model.tflite but cannot run it: its batch
dimension is dynamic (char_id [-1], state [-1, 2L, U]). This re-traces the SavedModel's `step` with
char_id int32 [1] and state float32 [1, 2L, U] inside a tf.Module (which tracks the SavedModel's
variables, so the weights are saved; from_concrete_functions would drop them), saves that, and
converts it like the export's own files (TFLite builtins only). Before the file is kept it runs
beside the SavedModel `step` along the export's check text (exporting/tflite.py's check): NaN or a
logit difference above the tolerance fails the build.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import tensorflow as tf

from charkeras.errors import ExportError
from charkeras.exporting.tflite import check_tflite, convert_tflite
from charkeras.text.vocabulary import Vocabulary

WEB_MODEL_FILE = "model_web.tflite"
TOLERANCE = 1e-4  # max |logit diff| against the SavedModel, as for the export's float32 file


def static_step_bytes(saved_model: Path, layers: int, units: int) -> bytes:
    """The batch-1 static-shape float32 `step` model of a SavedModel (inputs char_id, state; outputs
    logits, state)."""
    loaded = tf.saved_model.load(str(saved_model))
    step = loaded.signatures["step"]

    class StaticStep(tf.Module):
        def __init__(self):
            super().__init__()
            self.loaded = loaded  # tracked, so the variables are saved with the new signature

        @tf.function(input_signature=[tf.TensorSpec([1], tf.int32, name="char_id"),
                                      tf.TensorSpec([1, 2 * layers, units], tf.float32,
                                                    name="state")])
        def step(self, char_id, state):
            out = step(char_id=char_id, state=state)
            return {"logits": out["logits"], "state": out["state"]}

    module = StaticStep()
    with tempfile.TemporaryDirectory(prefix="charkeras-web-model-") as tmp:
        tf.saved_model.save(module, tmp, signatures={"step": module.step})
        return convert_tflite(Path(tmp), "float32")


def write_web_model(saved_model: Path, layers: int, units: int, vocab: Vocabulary,
                    out: Path) -> dict:
    """Write `out` (model_web.tflite) and check it against the SavedModel; returns the check's
    numbers."""
    out.write_bytes(static_step_bytes(saved_model, layers, units))
    # raises ExportError on NaN
    result = check_tflite(saved_model, {out.name: out}, vocab)[out.name]
    if not result["max_abs_logit_diff"] <= TOLERANCE:
        raise ExportError(f"{out.name} differs from the SavedModel `step` by "
                          f"{result['max_abs_logit_diff']:.2e} over {result['check_steps']} steps "
                          f"(tolerance {TOLERANCE:.0e}): the conversion is broken")
    return result
