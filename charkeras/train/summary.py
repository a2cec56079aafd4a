"""Facts about a finished or running run, for model cards."""

from __future__ import annotations

import time

from charkeras.probability import bits
from charkeras.train.checkpoints import read_meta
from charkeras.train.hardware import hardware_description
from charkeras.train.run_dir import RunDir


def run_summary(run_path) -> dict:
    """Corpus, best val loss, training time and the hardware this runs on."""
    run = RunDir(run_path)
    info = run.read_run_info()
    best = run.best_checkpoint() or run.latest_checkpoint()
    meta = read_meta(best) if best else {}
    val = meta.get("val_loss")
    return {
        "corpus_source": info["source"], "corpus_sha256": info["sha256"],
        "val_loss": val, "val_bpc": bits(val),
        "train_seconds": meta.get("train_seconds"), "step": meta.get("step"),
        "hardware": hardware_description(), "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
