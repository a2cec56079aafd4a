"""Facts about a run and the machine it trains on, for run.json and model cards."""

from __future__ import annotations

import os
import platform
import time

import tensorflow as tf

from charkeras.machine import cpu_name
from charkeras.probability import bits
from charkeras.train.run.checkpoints import read_meta
from charkeras.train.run.directory import RunDir


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
        "hardware": hardware_description(),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def hardware_description() -> str:
    """One line: CPU, architecture, cores, GPUs and TensorFlow's version."""
    gpus = tf.config.list_physical_devices("GPU")
    devices = f"{len(gpus)} GPU(s)" if gpus else "CPU only"
    return (f"{cpu_name()} ({platform.machine()}, {os.cpu_count()} cores), {devices}, "
            f"TensorFlow {tf.__version__}")
