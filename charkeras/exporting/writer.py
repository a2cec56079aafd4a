"""Export a trained model to the fixed export contract (see DESIGN.md, "Export contract").

The layout is charkeras/artifact/layout.py's. Everything is traced from the inference model
(LSTMCells, pure CPU graph code), never from the training model, so an export made on a GPU machine
loads on a CPU one. A first export is built beside the target and renamed into place; exporting
again into an export adds the next integer version directory, renamed into place whole, then
replaces the .tflite files and card.json one atomic rename each (the card last) and keeps the newest
`keep_versions` versions. A failed export leaves no half-written model.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import tensorflow as tf

from charkeras.artifact.layout import (
    CARD_FILE,
    DEFAULT_KEEP_VERSIONS,
    QUANTIZE_CHOICES,
    TFLITE_FILES,
    VERSION_DIR,
    check_export_target,
    model_kind,
    version_numbers,
)
from charkeras.atomic import atomic_directory, try_lock
from charkeras.config import CharConfig
from charkeras.errors import ExportError, require
from charkeras.exporting.from_export import inference_model_from_export
from charkeras.exporting.model_card import model_card
from charkeras.exporting.saved_model import write_saved_model
from charkeras.exporting.tflite import check_tflite, convert_tflite
from charkeras.model.networks import count_params
from charkeras.probability import bits
from charkeras.text.vocabulary import Vocabulary
from charkeras.train.run.checkpoints import read_meta
from charkeras.train.run.directory import RunDir
from charkeras.train.run.loading import inference_model_from_run
from charkeras.train.summary import run_summary


def export(source, out, *, quantize: str | None = None, checkpoint: str = "best",
           force: bool = False, keep_versions: int = DEFAULT_KEEP_VERSIONS,
           verbose: bool = False) -> Path:
    """Export a model for TF Serving, LiteRT and the browser.

    Writes the SavedModel as the version directory `out/1/` (the layout TF Serving watches), the
    `.tflite` files beside it and `card.json`, which describes the model and how it was trained.
    Exporting into an existing export adds its next version, which TF Serving picks up while
    serving; a failed export leaves `out` as it was.

    Args:
        source (str | Path): A training run (`runs/NAME`), or an export, which is rebuilt from its
            own weights by this version of charkeras (current graphs, optionally an int8 file),
            keeping its card's training facts.
        out (str | Path): The model base path to write (`saved_models/NAME`).
        quantize: Also write an int8 `.tflite` file (`"int8"`); float32 and fp16 are always
            written.
        checkpoint: The checkpoint of a training run: `"best"`, `"latest"` or a checkpoint
            directory.
        force: Replace `out` when it is a non-empty directory that is not an export (never a
            training run).
        keep_versions: Version directories kept in `out`; older ones are removed.
        verbose: Print what is written.

    Returns:
        `out`, as a `Path`.

    Raises:
        ModelLoadError: `source` is missing or neither a training run nor an export.
        ExportError: `out` cannot take the export (a training run, or a directory that is not an
            export without `force`), another export is writing into it, a converted model fails
            its checks, or `quantize` or `keep_versions` is out of range.

    Examples:
        Export the run that `charkeras.fit`'s example trains, then load it with LiteRT:

        >>> import charkeras
        >>> out = charkeras.export("runs/small", "saved_models/small")
        >>> sorted(path.name for path in out.iterdir())
        ['1', 'card.json', 'model.tflite', 'model_fp16.tflite']
        >>> charkeras.load(out, runtime="tflite").card["layers"]
        1

        Exporting again adds version 2 beside version 1:

        >>> sorted(path.name for path in charkeras.export("runs/small", out).iterdir())
        ['1', '2', 'card.json', 'model.tflite', 'model_fp16.tflite']
    """
    kind, base = model_kind(source)
    _check_keep_versions(keep_versions)
    check_export_target(Path(out), force)  # before the model loads: a bad --out fails at once
    if kind == "export":
        if checkpoint != "best":
            raise ExportError(
                "--checkpoint picks a checkpoint of a training run; the source is an export")
        model, config, vocab, card = inference_model_from_export(base)
        training = card.get("training")
    else:
        run = RunDir(base)
        model, config, vocab, chosen = inference_model_from_run(base, checkpoint)
        training = training_facts(run, chosen)
    return export_model(model, config, vocab, out, training=training, quantize=quantize,
                        force=force, keep_versions=keep_versions, verbose=verbose)


def training_facts(run: RunDir, checkpoint: Path) -> dict:
    """The card's training section, for the exported checkpoint (which need not be the best one)."""
    summary = run_summary(run.path)
    meta = read_meta(checkpoint)
    val_loss = meta.get("val_loss")
    return summary | {
        "checkpoint": checkpoint.name, "step": meta.get("step"), "val_loss": val_loss,
        "val_bpc": bits(val_loss),
        "train_seconds": meta.get("train_seconds"),
        # run_summary describes the machine it runs on; only run.json can say what trained the
        # model.
        "hardware": run.read_run_info().get("hardware", "not recorded by the run"),
        "exported_on": summary["hardware"],
    } | _base_of(run)


def _base_of(run: RunDir) -> dict:
    """A fine-tuned run's base (run.json's lineage: path, weights_sha256, val_loss, ...)."""
    base = run.read_run_info().get("base")
    return {} if base is None else {"base": base}


def export_model(inference_model, config: CharConfig, vocab: Vocabulary, out, *,
                 training: dict | None = None, quantize: str | None = None, force: bool = False,
                 keep_versions: int = DEFAULT_KEEP_VERSIONS, verbose: bool = False) -> Path:
    """Write the export of an inference model (weights already set) to `out`; returns `out`.

    A new `out` gets version 1, built beside it and renamed into place. An existing export gets the
    next integer version directory, renamed in whole (TF Serving picks it up while serving), then
    its .tflite files and card.json, each replaced atomically (the card last); only the newest
    `keep_versions` version directories are kept. `force` replaces a directory that is not an export
    (never a training run). A failed export leaves `out` as it was.
    """
    out = Path(out)
    if quantize not in (None, *QUANTIZE_CHOICES):
        raise ExportError(
            f"--quantize must be one of {', '.join(QUANTIZE_CHOICES)} (got {quantize!r})")
    _check_keep_versions(keep_versions)
    if not check_export_target(out, force):
        # Only --force replaces a directory; otherwise the first export creates `out`, and a
        # concurrent first export into the same path that renamed its directory in first wins, never
        # silently lost.
        replacing = out.is_dir() and any(out.iterdir())
        try:
            with atomic_directory(out, replace=replacing) as tmp:
                _write_export(tmp, VERSION_DIR, inference_model, config, vocab, training, quantize,
                              verbose)
        except FileExistsError:
            raise ExportError(f"--out {out} was created by another export while this one was "
                              "writing; nothing was replaced (export again to add a version to "
                              "it)") from None
        return out
    with _export_lock(out):
        # left by a killed export; the lock says none is running
        for stale in out.glob(".export-*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        version = str(max(version_numbers(out), default=0) + 1)
        tmp = Path(tempfile.mkdtemp(prefix=".export-", suffix=".tmp", dir=out))
        try:
            lite = _write_export(tmp, version, inference_model, config, vocab, training, quantize,
                                 verbose)
            os.replace(tmp / version, out / version)
            for name in lite:
                os.replace(tmp / name, out / name)
            # e.g. an int8 file of the previous export
            for name in set(TFLITE_FILES.values()) - set(lite):
                (out / name).unlink(missing_ok=True)
            os.replace(tmp / CARD_FILE, out / CARD_FILE)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for old in version_numbers(out)[:-keep_versions]:
            shutil.rmtree(out / str(old), ignore_errors=True)
    _log(verbose, f"wrote version {version} of {out}")
    return out


def _write_export(tmp: Path, version: str, inference_model, config: CharConfig, vocab: Vocabulary,
                  training: dict | None, quantize: str | None, verbose: bool) -> dict:
    """SavedModel in tmp/version, the .tflite files and card.json in tmp; returns the card's tflite
    facts."""
    cfg = config.model
    started = time.monotonic()
    saved_model = tmp / version
    try:
        write_saved_model(inference_model, vocab, cfg.layers, cfg.units, saved_model)
    except (tf.errors.ResourceExhaustedError, tf.errors.PermissionDeniedError) as exc:
        # TensorFlow's own file writes report a full disk or a permission this way, not as OSError
        text = str(exc)
        reason = ("No space left on device (free some space or export somewhere else)"
                  if "No space left" in text else "permission denied"
                  if isinstance(exc, tf.errors.PermissionDeniedError)
                  else (text.strip().splitlines() or [type(exc).__name__])[0])
        raise ExportError(f"cannot write the SavedModel in {tmp.parent}: {reason}") from None
    _log(verbose, f"SavedModel written ({time.monotonic() - started:.1f} s)")
    variants = ["float32", "fp16"] + ([quantize] if quantize else [])
    lite = {}
    for variant in variants:
        path = tmp / TFLITE_FILES[variant]
        data = convert_tflite(saved_model, variant)
        path.write_bytes(data)
        # The sha256 ties each .tflite to this card: LiteRT refuses a file from another export.
        lite[TFLITE_FILES[variant]] = {"variant": variant, "bytes": len(data),
                                       "sha256": hashlib.sha256(data).hexdigest()}
    checks = check_tflite(saved_model, {TFLITE_FILES[v]: tmp / TFLITE_FILES[v] for v in variants},
                          vocab)
    for name, result in checks.items():
        lite[name].update(result)
    _log(verbose, f"TFLite written and checked ({time.monotonic() - started:.1f} s)")
    card = model_card(config, vocab, count_params(inference_model), training, lite, version)
    # backslashreplace: a corpus path with bytes that are not UTF-8 (lone surrogates) stays a JSON
    # escape
    (tmp / CARD_FILE).write_bytes((json.dumps(card, indent=2, ensure_ascii=False) + "\n")
                                  .encode("utf-8", "backslashreplace"))
    return lite


def _log(verbose: bool, message: str) -> None:
    if verbose:
        print(message, flush=True)


def _check_keep_versions(keep_versions) -> None:
    require(isinstance(keep_versions, int) and keep_versions >= 1,
            f"--keep-versions must be >= 1 (got {keep_versions})", ExportError)


@contextlib.contextmanager
def _export_lock(out: Path):
    """Hold an exclusive lock on the export directory itself (no lock file in a served base path),
    so two exports into one base path cannot pick the same version or delete each other's temporary
    files."""
    fd = os.open(out, os.O_RDONLY)
    try:
        if not try_lock(fd):
            raise ExportError(f"another export is writing into {out}; wait for it to finish")
        yield
    finally:
        os.close(fd)  # releases the lock
