"""`load(path)`: a model ready to generate or score, from an export or a training run.

Runtimes (all return a `CharModel`, charkeras/runtime/char_model.py, and give the same text for a
seed):
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
    """The concrete runtime for a model of `kind` ("export" or "run") when `runtime` is asked
    for."""
    require(runtime is None or runtime in RUNTIMES,
            f"--runtime must be one of {', '.join(RUNTIMES)} (got {runtime!r})")
    if runtime not in (None, "auto"):
        return runtime
    if kind == "run":
        return "run"
    if runtime == "auto" and (precision != "float32"
                              or importlib.util.find_spec("ai_edge_litert") is not None):
        return "tflite"
    return "savedmodel"


def load(path, runtime: str | None = None, *, precision: str = "float32", checkpoint: str = "best",
         lite_threads: int | None = None) -> CharModel:
    """Load a model to generate from or score text with: an export or a training run.

    Every runtime gives the same text for the same seed; they differ in what they need and how
    fast they start.

    Args:
        path (str | Path): An export (`saved_models/NAME`, or its version directory
            `saved_models/NAME/1`) or a training run (`runs/NAME`).
        runtime: `"savedmodel"`: the export's SavedModel signatures (imports TensorFlow).
            `"tflite"`: the export's `.tflite` file through LiteRT (needs the `lite` extra; never
            imports TensorFlow). `"run"`: a training run's checkpoint in memory, running the
            signatures its export would contain. `"auto"` (the CLI's default): `"tflite"` for an
            export when LiteRT is installed or `precision` is not float32, else as None.
            None: `"savedmodel"` for an export, `"run"` for a training run.
        precision: Which `.tflite` file the `"tflite"` runtime runs: `"float32"`, `"fp16"` or
            `"int8"` (when the export has it).
        checkpoint: The checkpoint of a training run: `"best"`, `"latest"` or a checkpoint
            directory.
        lite_threads: LiteRT's threads for the `"tflite"` runtime [default: the cores, at most 4].

    Returns:
        A `CharModel`: `generate`, `score` and `step` in the chosen runtime.

    Raises:
        ModelLoadError: `path` is missing, is neither an export nor a training run, is corrupt,
            or does not suit `runtime` (a training run with `"tflite"`, an export with `"run"`).
        ConfigError: `runtime` or `precision` is not one of the values above.
        RuntimeMissing: `runtime="tflite"` without LiteRT installed (`pip install
            'charkeras[lite]'`).

    Examples:
        >>> import charkeras
        >>> m = charkeras.load("saved_models/shakespeare", runtime="tflite")
        >>> m
        <LiteCharModel saved_models/shakespeare runtime=tflite layers=2 units=512 vocab=67>
        >>> print(m.generate(30, prime="ROMEO:\\n", temperature=0))
        I have seen thee to the court.

        The same text comes through TensorFlow, and a training run loads from its best
        checkpoint (here the run that `charkeras.fit`'s example trains):

        >>> saved_model = charkeras.load("saved_models/shakespeare")
        >>> saved_model.generate(30, prime="ROMEO:\\n", temperature=0)
        'I have seen thee to the court.'
        >>> charkeras.load("runs/small").runtime
        'run'
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
    # TensorFlow: only for this runtime
    from charkeras.runtime.signature_model import load_saved_model

    return load_saved_model(base, card, vocab)
