"""Rebuild the run's report.html and loss.png at every epoch end."""

from __future__ import annotations

import keras

from charkeras.train.report import update_report
from charkeras.train.run_dir import RunDir


class ReportRefresher(keras.callbacks.Callback):
    def __init__(self, run: RunDir):
        super().__init__()
        self.run = run

    def on_epoch_end(self, epoch, logs=None):
        # The CSV logger writes this epoch's row after us, so the report gets it directly.
        update_report(self.run.path, latest_epoch={"epoch": epoch, **(logs or {})})
