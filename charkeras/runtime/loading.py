"""`load(path)`: a model ready to generate or score, from an export or a training run.

Runtimes (all return a `CharModel`, charkeras/runtime/char_model.py, and give the same text for a seed):
- "savedmodel": an export's SavedModel signatures (needs TensorFlow);
- "tflite": an export's `.tflite` `step` signature through LiteRT (never imports TensorFlow);
- "run": a training run's checkpoint in memory, running the signatures its export would contain;
- "auto" (the CLI default): "tflite" for an export when LiteRT is installed (it skips TensorFlow's
  import, which dominates a short run) or when a precision other than float32 is asked for;
  otherwise like None;
- None (the default of `load`): "savedmodel" for an export, "run" for a training run.
TensorFlow is imported only when the SavedModel or run runtime is chosen.
"""

from __future__ import annotations

import importlib.util

from charkeras.artifact.card import card_vocabulary, read_card
from charkeras.artifact.layout import model_kind
from charkeras.errors import ModelLoadError, require
from charkeras.runtime.char_model import CharModel
from charkeras.runtime.lite_model import LiteCharModel

RUNTIMES = ("auto", "savedmodel", "tflite", "run")


def resolve_runtime(kind: str, runtime: str | None, precision: str = "float32") -> str:
    """The concrete runtime for a model of `kind` ("export" or "run") when `runtime` is asked for."""
    require(runtime is None or runtime in RUNTIMES,
            f"--runtime must be one of {', '.join(RUNTIMES)} (got {runtime!r})")
    if runtime not in (None, "auto"):
        return runtime
    if kind == "run":
        return "run"
    if runtime == "auto" and (precision != "float32" or importlib.util.find_spec("ai_edge_litert") is not None):
        return "tflite"
    return "savedmodel"


def load(path, runtime: str | None = None, *, precision: str = "float32", checkpoint: str = "best",
         lite_threads: int | None = None) -> CharModel:
    """Load an export or a training run with `runtime` (see the module docstring).

    `precision` picks the .tflite file for runtime "tflite": float32, fp16 or int8 (if exported).
    `checkpoint` ("best", "latest" or a path) picks the checkpoint of a training run.
    `lite_threads`: LiteRT's threads for runtime "tflite" [default: the cores, at most 4].
    """
    kind, base = model_kind(path)
    runtime = resolve_runtime(kind, runtime, precision)
    if kind == "run":
        if runtime != "run":
            raise ModelLoadError(f"{base} is a training run: runtime {runtime!r} needs an export "
                                 f"(charkeras export {base} --out saved_models/NAME)")
        from charkeras.runtime.signature_model import load_run  # TensorFlow: only for this runtime

        return load_run(base, checkpoint)
    if runtime == "run":
        raise ModelLoadError(f"{base} is an export; runtime 'run' is for training runs "
                             "(use savedmodel or tflite)")
    card = read_card(base)
    vocab = card_vocabulary(card, base)
    if runtime == "tflite":
        return LiteCharModel.from_export(base, card, vocab, precision, lite_threads)
    from charkeras.runtime.signature_model import load_saved_model  # TensorFlow: only for this runtime

    return load_saved_model(base, card, vocab)
