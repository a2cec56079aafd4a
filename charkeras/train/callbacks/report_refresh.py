"""Rebuild the run's report.html and loss.png during training: at an epoch end when the last rebuild is
at least `min_seconds` old (a small corpus has epochs of a second; drawing the plot takes longer),
and when training ends."""

from __future__ import annotations

import time

import keras

from charkeras.train.report import update_report
from charkeras.train.run_dir import RunDir

MIN_SECONDS = 30.0


class ReportRefresher(keras.callbacks.Callback):
    def __init__(self, run: RunDir, min_seconds: float = MIN_SECONDS):
        super().__init__()
        self.run, self.min_seconds = run, min_seconds
        self._last = None

    def on_epoch_end(self, epoch, logs=None):
        now = time.monotonic()
        if self._last is not None and now - self._last < self.min_seconds:
            return
        self._last = now
        # The epoch's row may not be in log.csv yet, so the report gets it directly.
        update_report(self.run.path, latest_epoch={"epoch": epoch, **(logs or {})})

    def on_train_end(self, logs=None):
        update_report(self.run.path)
        self._last = time.monotonic()
