"""The curves of a run on a step axis, for the report: STEPS_FILE (the training loss over every
CURVE_EVERY steps, and the learning rate) and VALIDATIONS_FILE (every validation: epoch ends,
`val_every` steps, and the time budget's timed one).

The cadence is fixed, whatever the run's planned length: a time budget plans the length only after
the first steps (until then the run's epochs are unlimited), and a run may stop before its first
epoch ends, so a cadence derived from the planned total could leave a run with no row at all.

Keras reports the training loss as the running mean since the epoch began; the loss of the steps in
between two rows is recovered from two such means (n_k m_k - n_j m_j) / (k - j), with n counted
from the epoch's first batch (a resumed run restores the running mean with its count).
"""

from __future__ import annotations

import time

import keras
import numpy as np

from charkeras.probability import bits
from charkeras.train.callbacks.progress import TrainingProgress, current_step
from charkeras.train.run.logs import append_row
from charkeras.train.run.names import STEPS_FILE, VALIDATIONS_FILE

CURVE_EVERY = 10  # steps per row of STEPS_FILE (a row is ~40 bytes: 4 MB for a million steps)
STEP_COLUMNS = ("step", "epoch", "loss", "lr")
VALIDATION_COLUMNS = ("step", "epoch", "val_loss", "val_bpc", "time")


class TrainingCurveLog(keras.callbacks.Callback):
    """STEPS_FILE: one row per `every_steps` steps, the mean training loss of the steps since the
    last."""

    def __init__(self, progress: TrainingProgress, every_steps: int = CURVE_EVERY):
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
        step = self.progress.step
        # batches into this epoch, this one included
        n = (step - 1) % self.progress.layout.batches + 1
        total = float(loss) * n
        previous = self._prev_total if self._prev_total is not None and n > 1 else 0.0
        # a resumed epoch: its first batch here stands for itself
        if self._prev_total is None and n > 1:
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
        append_row(self.progress.run.path / STEPS_FILE, STEP_COLUMNS, {
            "step": step, "epoch": (step - 1) // self.progress.layout.batches + 1,
            "loss": self._sum / self._count, "lr": lr})
        self._sum, self._count = 0.0, 0


class ValidationCurveLog(keras.callbacks.Callback):
    """VALIDATIONS_FILE: one row per validation, whoever ran it (Validation at epoch ends and every
    `val_every` steps, the time budget when it times one before planning). Comes after them: it
    records the validation `progress` holds when it was measured at the current step."""

    def __init__(self, progress: TrainingProgress):
        super().__init__()
        self.progress = progress
        self._recorded: int | None = None  # the step of the last row written

    def on_train_batch_end(self, batch, logs=None):
        step = self.progress.step
        if step % self.progress.layout.batches != 0:  # an epoch's last step: its end validates
            self._record(step)

    def on_epoch_end(self, epoch, logs=None):
        self._record(current_step(self.model))

    def _record(self, step: int) -> None:
        progress = self.progress
        if (progress.last_val_step != step or self._recorded == step
                or progress.last_val_loss is None):
            return
        self._recorded = step
        loss = progress.last_val_loss
        append_row(progress.run.path / VALIDATIONS_FILE, VALIDATION_COLUMNS, {
            "step": step, "epoch": (step - 1) // progress.layout.batches + 1, "val_loss": loss,
            "val_bpc": bits(loss), "time": round(time.time(), 3)})
