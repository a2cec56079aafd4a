"""Rebuild the run's report and its plot (`run.report`) during training: at an epoch end when the
last rebuild is at least `min_seconds` old (a small corpus has epochs of a second; drawing the plot
takes longer), and when training ends, unless the epoch end just rebuilt it at the same step."""

from __future__ import annotations

import time

import keras

from charkeras.train.callbacks.progress import current_step
from charkeras.train.run.directory import RunDir
from charkeras.train.run.report import update_report

MIN_SECONDS = 30.0


class ReportRefresher(keras.callbacks.Callback):
    def __init__(self, run: RunDir, min_seconds: float = MIN_SECONDS):
        super().__init__()
        self.run, self.min_seconds = run, min_seconds
        self._last = None
        self._last_step = None  # the step the report shows

    def on_epoch_end(self, epoch, logs=None):
        now = time.monotonic()
        if self._last is not None and now - self._last < self.min_seconds:
            return
        self._last, self._last_step = now, current_step(self.model)
        # The epoch's row may not be in the log yet (EpochLog may come later), so the report gets it
        # here.
        update_report(self.run.path, latest_epoch={**(logs or {}), "epoch": epoch + 1,
                                                   "step": self._last_step})

    def on_train_end(self, logs=None):
        # A run that ends at an epoch end has just been drawn (0.5-1 s of matplotlib each time).
        if self._last_step is not None and self._last_step == current_step(self.model):
            return
        update_report(self.run.path)
        self._last, self._last_step = time.monotonic(), current_step(self.model)
