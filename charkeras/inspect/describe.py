"""`charkeras info`: what a model directory holds, read without TensorFlow."""

from __future__ import annotations

from charkeras.artifact.card import read_card
from charkeras.artifact.layout import model_kind
from charkeras.train.checkpoints import read_meta
from charkeras.train.run_dir import RUN_FILE, RunDir


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
    for name, ckpt in (("best_checkpoint", best), ("latest_checkpoint", latest)):
        if ckpt is not None:
            meta = read_meta(ckpt)
            info[name] = {"path": str(ckpt), "step": meta.get("step"), "val_loss": meta.get("val_loss"),
                          "train_seconds": meta.get("train_seconds")}
    return info
