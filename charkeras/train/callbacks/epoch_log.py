"""The run's LOG_FILE: one row per finished epoch, counted from 1, with the global step
(`run.logs`)."""

from __future__ import annotations

import keras

from charkeras.train.callbacks.progress import current_step
from charkeras.train.run.directory import RunDir
from charkeras.train.run.logs import append_log_row


class EpochLog(keras.callbacks.Callback):
    """Replaces keras.callbacks.CSVLogger, whose rows count epochs from 0 and carry no step, so a
    resumed run could not tell which rows its checkpoint already covers."""

    def __init__(self, run: RunDir):
        super().__init__()
        self.run = run

    def on_epoch_end(self, epoch, logs=None):
        append_log_row(self.run.path,
                       {"epoch": epoch + 1, "step": current_step(self.model), **(logs or {})})
