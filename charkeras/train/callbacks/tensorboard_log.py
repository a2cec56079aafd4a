"""TensorBoard scalars at every epoch end, against the global step.

Like keras.callbacks.TensorBoard(update_freq="epoch"): `epoch_loss`, `epoch_bpc`, `epoch_lr` in the
run's TENSORBOARD_DIR under train/ and the validation ones under validation/, but the x-axis is the
global step (as in the report and the samples) and the events are flushed at once, before the
epoch's checkpoint is written. On resume, `run.tensorboard.rewind_tensorboard` drops the events
after the checkpoint's step, so TensorBoard never shows a step twice.
"""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

from charkeras.train.callbacks.progress import current_step
from charkeras.train.run.directory import RunDir
from charkeras.train.run.names import TENSORBOARD_DIR, TENSORBOARD_PARTS


class TensorBoardLog(keras.callbacks.Callback):
    def __init__(self, run: RunDir):
        super().__init__()
        self.run = run
        self._writers = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._writers is None:
            root = self.run.path / TENSORBOARD_DIR
            self._writers = {name: tf.summary.create_file_writer(str(root / name))
                             for name in TENSORBOARD_PARTS}
        step = current_step(self.model)
        parts = {"train": {k: v for k, v in logs.items() if not k.startswith("val_")},
                 "validation": {k[4:]: v for k, v in logs.items() if k.startswith("val_")}}
        for name, values in parts.items():
            writer = self._writers[name]
            with writer.as_default(step=step):
                for key in sorted(values):
                    with contextlib.suppress(TypeError, ValueError):
                        tf.summary.scalar(f"epoch_{key}", float(values[key]))
            writer.flush()
