"""The curves of a run on a step axis, for the report: steps.csv (training loss over each `every` steps,
and the learning rate) and validations.csv (every validation, epoch-end and --val-every).

Keras reports the training loss as the running mean since the epoch began; the loss of the steps in
between two rows is recovered from two such means (n_k m_k - n_j m_j) / (k - j), with n counted
from the epoch's first batch (a resumed run restores the running mean with its count).
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import keras
import numpy as np

from charkeras.probability import bits
from charkeras.train.callbacks.progress import AfterValidation, TrainingProgress, current_step
from charkeras.train.report_curves import STEPS_FILE, VALIDATIONS_FILE

STEP_COLUMNS = ("step", "epoch", "loss", "lr")
VALIDATION_COLUMNS = ("step", "epoch", "val_loss", "val_bpc", "time")


def _append(path: Path, columns, row: dict) -> None:
    new = not path.is_file() or path.stat().st_size == 0
    with open(path, "a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        if new:
            writer.writeheader()
        writer.writerow(row)


def default_every(total_steps: int) -> int:
    """Rows of steps.csv: every 10 steps, fewer on long runs (at most about 2,000 rows)."""
    return max(10, total_steps // 2000)


class TrainingCurveLog(keras.callbacks.Callback):
    """steps.csv: one row per `every` steps."""

    def __init__(self, progress: TrainingProgress, every_steps: int):
        super().__init__()
        self.progress, self.every = progress, max(1, every_steps)
        self._sum = 0.0  # loss summed over the steps since the last row
        self._count = 0
        self._prev_total = None  # n * running mean after the previous batch

    def on_epoch_begin(self, epoch, logs=None):
        self._prev_total = None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        step = current_step(self.model)
        n = (step - 1) % self.progress.layout.batches + 1  # batches into this epoch, this one included
        total = float(loss) * n
        previous = self._prev_total if self._prev_total is not None and n > 1 else 0.0
        if self._prev_total is None and n > 1:  # a resumed epoch: its first batch here stands for itself
            previous = float(loss) * (n - 1)
        self._prev_total = total
        self._sum += total - previous
        self._count += 1
        if step % self.every == 0:
            self._write(step)

    def _write(self, step: int) -> None:
        if not self._count:
            return
        lr = float(np.asarray(self.model.optimizer.learning_rate))
        _append(self.progress.run.path / STEPS_FILE, STEP_COLUMNS, {
            "step": step, "epoch": (step - 1) // self.progress.layout.batches + 1,
            "loss": self._sum / self._count, "lr": lr})
        self._sum, self._count = 0.0, 0


class ValidationCurveLog(AfterValidation):
    """validations.csv: one row per validation. Must come after Validation, whose result it reads."""

    def validated(self, step: int, loss: float) -> None:
        _append(self.progress.run.path / VALIDATIONS_FILE, VALIDATION_COLUMNS, {
            "step": step, "epoch": (step - 1) // self.progress.layout.batches + 1, "val_loss": loss,
            "val_bpc": bits(loss), "time": round(time.time(), 3)})
