"""Export a trained model to the fixed export contract (see DESIGN.md, "Export contract").

    NAME/1/                 SavedModel with the signatures generate (= serving_default), step, score, vocabulary
    NAME/model.tflite       float32 `step` signature, TFLite builtin ops only
    NAME/model_fp16.tflite  float16 weights, same signature
    NAME/model_int8.tflite  dynamic-range int8 weights (only with quantize="int8")
    NAME/card.json          config, vocabulary, parameter count, training facts, LiteRT accuracy checks

Everything is traced from the step model (LSTMCells, pure CPU graph code), never from the training
model, so an export made on a GPU machine loads on a CPU one. `signature_functions` is also what
`charkeras.runtime` runs for a training run directory, so a run and its export execute the same graph.
The whole directory is built beside the target and renamed into place: a failed export leaves no
half-written model.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import types
from pathlib import Path

import numpy as np

from charkeras import __version__
from charkeras.atomic import atomic_directory
from charkeras.checkpoint import RunDir, load_checkpoint, read_meta
from charkeras.config import CharConfig
from charkeras.errors import ExportError, ModelLoadError
from charkeras.runtime import start_id
from charkeras.vocab import Vocabulary

VERSION_DIR = "1"
CARD_FILE = "card.json"
FORMAT = "charkeras-export"
FORMAT_VERSION = 1
TFLITE_FILES = {"float32": "model.tflite", "fp16": "model_fp16.tflite", "int8": "model_int8.tflite"}
QUANTIZE_CHOICES = ("int8",)
_CHECK_STEPS = 200  # LiteRT-vs-SavedModel steps measured at export time (recorded in card.json)
_FLOAT32_TOLERANCE = 1e-4  # max |logit diff| of the float32 .tflite against the SavedModel


# ---- graph functions (shared by the SavedModel and the in-memory runtime of a training run) ---------
def signature_functions(step_model, vocab: Vocabulary, layers: int, units: int) -> dict:
    """The contract's four signatures as `tf.function`s with named inputs; each returns a dict.

    Returns {"generate", "step", "score", "vocabulary", "vectorize"}: the last is the lookup layer the
    functions use, which an export must track.
    """
    import tensorflow as tf

    from charkeras.loop_step import keras_step_fn, loop_step_fn
    from charkeras.sampling import generate_ids

    vectorize = vocab.text_vectorization()
    vectorize(tf.constant(["a"]))  # creates the lookup table so it can be tracked and saved
    tokens = tf.constant(vocab.tokens)
    first = start_id(vocab)
    state_shape = [2 * layers, units]

    step_fn = keras_step_fn(step_model)  # `step` runs the Keras step model; the loops run its written-out twin

    def text_ids(text):
        """[1, n] ids of a scalar string (unknown characters -> 1)."""
        return tf.cast(vectorize(tf.reshape(text, [1])), tf.int32)

    @tf.function(input_signature=[
        tf.TensorSpec([], tf.string, name="prompt"),
        tf.TensorSpec([], tf.int32, name="num_chars"),
        tf.TensorSpec([], tf.float32, name="temperature"),
        tf.TensorSpec([], tf.int32, name="top_k"),
        tf.TensorSpec([2], tf.int32, name="seed"),
    ])
    def generate(prompt, num_chars, temperature, top_k, seed):
        ids = text_ids(prompt)
        prime = tf.cond(tf.shape(ids)[1] > 0, lambda: ids, lambda: tf.fill([1, 1], first))
        state = tf.zeros([1, *state_shape])
        out = generate_ids(loop_step_fn(step_model, layers), prime, state, tf.maximum(num_chars, 0),
                           temperature, top_k, seed)
        return {"text": tf.strings.reduce_join(tf.gather(tokens, out[0]))}

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.int32, name="char_id"),
        tf.TensorSpec([None, *state_shape], tf.float32, name="state"),
    ])
    def step(char_id, state):
        logits, new_state = step_fn(char_id, state)
        return {"logits": logits, "state": new_state}

    @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="text")])
    def score(text):
        ids = text_ids(text)
        nll, count = score_ids(loop_step_fn(step_model, layers), ids, tf.zeros([1, *state_shape]))
        return {"nll": nll[0], "count": count}

    @tf.function(input_signature=[])
    def vocabulary():
        return {"vocabulary": tokens}

    return {"generate": generate, "step": step, "score": score, "vocabulary": vocabulary,
            "vectorize": vectorize}


def score_ids(step_fn, ids, state):
    """Sum over i >= 1 of -ln p(ids[:, i] | ids[:, :i]) per row, and the count n - 1 (0 for n < 2).

    Accumulates in float64 so a long text's sum does not lose the small terms.
    """
    import tensorflow as tf

    n = tf.shape(ids)[1]
    state = tf.convert_to_tensor(state)

    def body(i, state, total):
        logits, state = step_fn(ids[:, i - 1], state)
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float64))
        total -= tf.gather(log_probs, ids[:, i], batch_dims=1)
        return i + 1, tf.ensure_shape(state, state_in_shape), total

    state_in_shape = state.shape
    _, _, total = tf.while_loop(
        lambda i, *_: i < n, body, (tf.constant(1), state, tf.zeros([tf.shape(ids)[0]], tf.float64)))
    return tf.cast(total, tf.float32), tf.maximum(n - 1, 0)


# ---- loading a training run -------------------------------------------------------------------------
def step_model_from_run(run_path, checkpoint: str | os.PathLike = "best"):
    """(step model, config, vocab, checkpoint path) from a run's best checkpoint (else its latest).

    `checkpoint` is "best", "latest" or the path of one checkpoint directory.
    """
    from charkeras.model import build_training_model, step_model_from

    run = RunDir(run_path)
    config = run.read_config()
    vocab = run.read_vocab()
    if checkpoint == "best":
        chosen = run.best_checkpoint() or run.latest_checkpoint()
    elif checkpoint == "latest":
        chosen = run.latest_checkpoint()
    else:
        chosen = Path(checkpoint)
        if not (chosen / "meta.json").is_file():
            raise ModelLoadError(f"{chosen} is not a checkpoint directory (no meta.json)")
    if chosen is None:
        raise ModelLoadError(f"{run.path} has no checkpoint yet: train it first (charkeras fit)")
    # The training model is built only to read the checkpoint; its batch size matches the one saved.
    training = build_training_model(config.model, config.data.batch_size, seed=config.train.seed)
    load_checkpoint(chosen, training)
    return step_model_from(training, config.model), config, vocab, Path(chosen)


# ---- writing an export ------------------------------------------------------------------------------
def step_model_from_export(base: Path):
    """(step model, config, vocab, card) rebuilt from an export: its card's config and the SavedModel's
    weights, matched by variable path (embedding/embeddings, lstm_0/kernel, ...)."""
    import tensorflow as tf

    from charkeras.model import build_step_model
    from charkeras.runtime import card_vocabulary, read_card, version_dir

    card = read_card(base)
    vocab = card_vocabulary(card, base)
    config = CharConfig.from_dict(card["config"])
    step_model = build_step_model(config.model)
    try:
        loaded = tf.saved_model.load(str(version_dir(base)))
        stored = {v.name.removesuffix(":0"): v for v in loaded.signatures["step"].variables}
    except (LookupError, OSError, ValueError, tf.errors.OpError) as exc:
        raise ModelLoadError(f"cannot load the SavedModel of {base}: {str(exc).strip().splitlines()[0]}") from None
    for weight in step_model.weights:
        if weight.path not in stored or tuple(stored[weight.path].shape) != tuple(weight.shape):
            raise ModelLoadError(f"{base} has no weight {weight.path} of shape {tuple(weight.shape)}: "
                                 "its SavedModel does not match its card.json")
        weight.assign(stored[weight.path].numpy())
    return step_model, config, vocab, card


def export(source, out, *, quantize: str | None = None, checkpoint: str = "best", force: bool = False,
           verbose: bool = False) -> Path:
    """Export the training run `source` to the model base path `out`; returns `out`.

    `source` may also be an export: it is rebuilt from its own weights by this version of charkeras
    (current graphs, optionally an int8 file), keeping its card's training facts.
    """
    from charkeras.runtime import model_kind

    kind, base = model_kind(source)
    if kind == "export":
        if checkpoint != "best":
            raise ExportError("--checkpoint picks a checkpoint of a training run; the source is an export")
        step_model, config, vocab, card = step_model_from_export(base)
        training = card.get("training")
    else:
        run = RunDir(base)
        step_model, config, vocab, chosen = step_model_from_run(base, checkpoint)
        training = training_facts(run, chosen)
    return export_model(step_model, config, vocab, out, training=training, quantize=quantize,
                        force=force, verbose=verbose)


def training_facts(run: RunDir, checkpoint: Path) -> dict:
    """The card's training section, for the exported checkpoint (which need not be the best one)."""
    from charkeras.train import run_summary

    summary = run_summary(run.path)
    meta = read_meta(checkpoint)
    val_loss = meta.get("val_loss")
    return summary | {
        "checkpoint": checkpoint.name, "step": meta.get("step"), "val_loss": val_loss,
        "val_bpc": val_loss / math.log(2) if val_loss is not None else None,
        "train_seconds": meta.get("train_seconds"),
        # run_summary describes the machine it runs on; only run.json can say what trained the model.
        "hardware": run.read_run_info().get("hardware", "not recorded by the run"),
        "exported_on": summary["hardware"],
    }


def export_model(step_model, config: CharConfig, vocab: Vocabulary, out, *, training: dict | None = None,
                 quantize: str | None = None, force: bool = False, verbose: bool = False) -> Path:
    """Write the export of a step model (weights already set) to `out` atomically; returns `out`."""
    from charkeras.model import count_params

    out = Path(out)
    _check_target(out, force)
    if quantize not in (None, *QUANTIZE_CHOICES):
        raise ExportError(f"--quantize must be one of {', '.join(QUANTIZE_CHOICES)} (got {quantize!r})")
    cfg = config.model
    started = time.monotonic()
    with atomic_directory(out) as tmp:
        saved_model = tmp / VERSION_DIR
        write_saved_model(step_model, vocab, cfg.layers, cfg.units, saved_model)
        _log(verbose, f"SavedModel written ({time.monotonic() - started:.1f} s)")
        variants = ["float32", "fp16"] + ([quantize] if quantize else [])
        lite = {}
        for variant in variants:
            path = tmp / TFLITE_FILES[variant]
            path.write_bytes(convert_tflite(saved_model, variant))
            lite[TFLITE_FILES[variant]] = {"variant": variant, "bytes": path.stat().st_size}
        checks = check_tflite(saved_model, {TFLITE_FILES[v]: tmp / TFLITE_FILES[v] for v in variants}, vocab)
        for name, result in checks.items():
            lite[name].update(result)
        _log(verbose, f"TFLite written and checked ({time.monotonic() - started:.1f} s)")
        card = model_card(config, vocab, count_params(step_model), training, lite)
        (tmp / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def _log(verbose: bool, message: str) -> None:
    if verbose:
        print(message, flush=True)


def _check_target(out: Path, force: bool) -> None:
    """Replace an earlier export only with force, and never a directory that is not an export."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out} is a file, not a directory")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not (out / CARD_FILE).is_file():
        raise ExportError(f"--out {out} is a non-empty directory that is not a charkeras export; "
                          "choose another --out")
    if not force:
        raise ExportError(f"{out} already holds an export: pass --force to replace it")


def write_saved_model(step_model, vocab: Vocabulary, layers: int, units: int, path: Path) -> None:
    import keras

    fns = signature_functions(step_model, vocab, layers, units)
    archive = keras.export.ExportArchive()
    # Only the lookup layer is tracked: tracking the step model too would store every weight twice
    # (keras-team/keras#23553: the keras.Variable wrappers and the tf.Variables the endpoints capture).
    # The endpoints' captured variables are saved on their own.
    archive.track(fns["vectorize"])
    # The first endpoint also becomes serving_default.
    for name in ("generate", "step", "score", "vocabulary"):
        archive.add_endpoint(name, fns[name])
    archive.write_out(str(path), verbose=False)


def convert_tflite(saved_model: Path, variant: str) -> bytes:
    """The `step` signature as a .tflite flatbuffer; builtin ops only, so Flex ops fail here, not on a phone."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=["step"])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic range: int8 weights, float activations
    try:
        return converter.convert()
    except Exception as exc:  # the converter raises several unrelated types; all mean "not convertible"
        raise ExportError(f"TFLite conversion ({variant}) failed: {str(exc).splitlines()[0]}") from exc


def check_tflite(saved_model: Path, files: dict[str, Path], vocab: Vocabulary) -> dict[str, dict]:
    """Run each .tflite beside the SavedModel `step` along one text; returns agreement numbers.

    The text is sampled from the SavedModel itself (seeded), so the check follows realistic states.
    Raises ExportError if the float32 model disagrees beyond tolerance or any model returns NaN: the
    converter has been seen to drop weights silently.
    """
    import tensorflow as tf

    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # LiteRT is optional for exporting; TensorFlow still ships an interpreter
        Interpreter = tf.lite.Interpreter

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
        runner = Interpreter(model_path=str(path)).get_signature_runner("step")
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
            "max_prob_diff": float(np.abs(_softmax(logits) - _softmax(reference)).max()),
        }
    return results


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def model_card(config: CharConfig, vocab: Vocabulary, params: int, training: dict | None, lite: dict) -> dict:
    import keras
    import tensorflow as tf

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
        "start_id": start_id(vocab),
        "seed_convention": "seed=s in charkeras means the signature input seed=[s, 0]",
        "config": config.to_dict(),
        "vocabulary": vocab.tokens,
        "training": training,
        "saved_model": {"version_dir": VERSION_DIR,
                        "signatures": ["generate", "serving_default", "step", "score", "vocabulary"]},
        "tflite": lite,
    }


class _CallableModule(types.ModuleType):
    """Importing this submodule makes `charkeras.export` the module, hiding the public function of the
    same name (charkeras/__init__.py); forwarding calls keeps `charkeras.export(run, out)` working."""

    def __call__(self, *args, **kwargs):
        return export(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
