"""`charkeras info`: what a model directory holds, read without TensorFlow."""

from __future__ import annotations

from pathlib import Path

from charkeras.artifact.card import read_card
from charkeras.artifact.layout import model_kind
from charkeras.train.run.checkpoints import read_meta
from charkeras.train.run.directory import RunDir
from charkeras.train.run.names import LOG_FILE, RUN_FILE, VALIDATIONS_FILE
from charkeras.train.run.report_curves import read_rows


def describe(path) -> dict:
    """What a model directory holds, without TensorFlow: the card of an export, or a run's files."""
    kind, base = model_kind(path)
    if kind == "export":
        return {"kind": "export", "path": str(base), "card": read_card(base)}
    run = RunDir(base)
    best, latest = run.best_checkpoint(), run.latest_checkpoint()
    info = {"kind": "run", "path": str(base), "config": run.read_config().to_dict()}
    if (base / RUN_FILE).is_file():
        info["run"] = run.read_run_info()
    validated = validations_by_step(base)
    for name, ckpt in (("best_checkpoint", best), ("latest_checkpoint", latest)):
        if ckpt is not None:
            meta = read_meta(ckpt)
            step = meta.get("step")
            # meta's val_loss is the newest validation when the checkpoint was written, which may be
            # from an earlier step; the step's own validation, when there was one, is in the logs.
            info[name] = {"path": str(ckpt), "step": step, "val_loss": meta.get("val_loss"),
                          "validated": step in validated, "val_loss_at_step": validated.get(step),
                          "last_validation": _last_before(validated, step),
                          "train_seconds": meta.get("train_seconds")}
    return info


def validations_by_step(run_path) -> dict[int, float]:
    """step -> val loss of every validation a run logged: validations.csv, and the epoch rows of
    log.csv that carry a step (older runs)."""
    run_path = Path(run_path)
    found = {row["step"]: row["val_loss"] for row in read_rows(run_path / LOG_FILE, ("val_loss",))}
    found.update({row["step"]: row["val_loss"]
                  for row in read_rows(run_path / VALIDATIONS_FILE, ("val_loss",))})
    return found


def _last_before(validated: dict[int, float], step) -> dict | None:
    earlier = [s for s in validated if step is not None and s <= step]
    return {"step": max(earlier), "val_loss": validated[max(earlier)]} if earlier else None
