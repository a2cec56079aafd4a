"""Checkpoints that resume exactly.

A checkpoint is a directory written atomically:
  meta.json      step, epoch, step in epoch, val loss, training seconds so far, config, corpus
                 sha256
  variables.npz  every model variable (weights and dropout seed-generator state), every optimizer
                 variable (iteration count, moments), the carried LSTM states, and the running mean
                 of the epoch's training loss (so the epoch's logged loss survives a stop mid-epoch)
Restoring them plus the data position (derived from the step) continues a run bit for bit.
Checkpoints are plain numpy arrays, so one written on a GPU loads on a CPU.

`checkpoints/best` is replaced by one atomic exchange of two complete directories
(`atomic_directory`), so no kill leaves a run without it; its files are hard links to the checkpoint
it copies when possible.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charkeras.atomic import atomic_directory
from charkeras.config import CharConfig
from charkeras.errors import RunDirError
from charkeras.schema import read_json
from charkeras.train import kill_points
from charkeras.train.run.directory import RunDir
from charkeras.train.run.names import BEST, META_FILE, VARIABLES_FILE
from charkeras.train.run.schemas import check_meta


@dataclass
class CheckpointMeta:
    step: int
    val_loss: float | None
    train_seconds: float

    def to_dict(self) -> dict:
        return {"step": self.step, "val_loss": self.val_loss, "train_seconds": self.train_seconds}


def save_checkpoint(path: Path, model, optimizer, states: list[np.ndarray], meta: CheckpointMeta,
                    config: CharConfig) -> None:
    arrays = {}
    for i, v in enumerate(model.variables):
        arrays[f"model/{i}"] = np.asarray(v)
    for i, v in enumerate(optimizer.variables):
        arrays[f"optimizer/{i}"] = np.asarray(v)
    for i, s in enumerate(states):
        arrays[f"state/{i}"] = np.asarray(s)
    metrics = list(getattr(model, "metrics_variables", []))
    for i, v in enumerate(metrics):
        arrays[f"metric/{i}"] = np.asarray(v)
    info = meta.to_dict() | {
        "config": config.to_dict(),
        "model_variables": [v.path for v in model.variables],
        "optimizer_variables": [v.path for v in optimizer.variables],
        "metric_variables": [v.path for v in metrics],
    }
    with atomic_directory(path) as tmp:
        np.savez(tmp / VARIABLES_FILE, **arrays)
        (tmp / META_FILE).write_text(json.dumps(info, indent=2))
        kill_points.reached("during_checkpoint_write")


def read_metric_state(path: Path, model) -> list[np.ndarray] | None:
    """The checkpoint's running training-loss mean, in the order of `model.metrics_variables`; None
    for a checkpoint written before it was saved, or for another set of metrics."""
    info = read_meta(path)
    names = info.get("metric_variables")
    wanted = [v.path for v in getattr(model, "metrics_variables", [])]
    if not isinstance(names, list) or [_generic(str(n)) for n in names] != [_generic(n)
                                                                            for n in wanted]:
        return None
    try:
        with np.load(Path(path) / VARIABLES_FILE) as npz:
            return [npz[f"metric/{i}"] for i in range(len(names))]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):
        return None


def assign_metric_state(model, values: list[np.ndarray]) -> None:
    for var, value in zip(model.metrics_variables, values):
        var.assign(value)


def read_meta(path: Path) -> dict:
    """A checkpoint's META_FILE, schema-checked (`schemas.check_meta`)."""
    meta = Path(path) / META_FILE
    return check_meta(read_json(meta, RunDirError, f"checkpoint {meta}"), meta)


def load_checkpoint(path: Path, model, optimizer=None) -> tuple[CheckpointMeta, list[np.ndarray]]:
    """Assign the checkpoint's model (and optimizer) variables; returns its meta and carried
    states."""
    info = read_meta(path)
    try:
        # Every array is read here, so a truncated or zero-byte file fails before any variable
        # changes.
        with np.load(Path(path) / VARIABLES_FILE) as npz:
            data = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise RunDirError(f"checkpoint {path}/{VARIABLES_FILE} is unreadable ({reason}); remove "
                          "that checkpoint directory to use an earlier one") from None
    _assign(model.variables, data, "model", info["model_variables"], path)
    if optimizer is not None:
        if not optimizer.variables:
            optimizer.build(model.trainable_variables)
        _assign(optimizer.variables, data, "optimizer", info["optimizer_variables"], path)
    states = [data[f"state/{i}"] for i in range(sum(k.startswith("state/") for k in data))]
    meta = CheckpointMeta(step=info["step"], val_loss=info["val_loss"],
                          train_seconds=info["train_seconds"])
    return meta, states


def _generic(variable_path: str) -> str:
    # Keras numbers auto-named objects per process ("seed_generator_3", "adam_1"): compare without
    # that.
    return re.sub(r"_\d+(?=/)", "", variable_path)


def _assign(variables, data, prefix: str, saved_paths: list[str], path: Path) -> None:
    paths = [_generic(v.path) for v in variables]
    if paths != [_generic(p) for p in saved_paths]:
        raise RunDirError(
            f"checkpoint {path} does not match this model ({prefix} variables differ)")
    for i, var in enumerate(variables):
        value = data.get(f"{prefix}/{i}")
        if value is None:
            raise RunDirError(
                f"checkpoint {path} has no {prefix}/{i} ({var.path}): the file is damaged")
        if tuple(value.shape) != tuple(var.shape):
            raise RunDirError(
                f"checkpoint {path}: {var.path} has shape {value.shape}, model wants {var.shape}")
        var.assign(value)


def prune_checkpoints(run: RunDir, keep: int) -> None:
    for old in run.list_checkpoints()[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def copy_as_best(checkpoint: Path, run: RunDir) -> None:
    """Make `checkpoint` the run's best: hard links to its files (a copy where links are
    impossible)."""
    with atomic_directory(run.checkpoints / BEST) as tmp:
        for f in Path(checkpoint).iterdir():
            try:
                os.link(f, tmp / f.name)
            except OSError:
                shutil.copy2(f, tmp / f.name)
