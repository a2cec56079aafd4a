"""TensorBoard scalars at every epoch end, against the global step, and their rewind on resume.

Like keras.callbacks.TensorBoard(update_freq="epoch"): `epoch_loss`, `epoch_bpc`, `epoch_lr` under
RUN/tensorboard/train and the validation ones under RUN/tensorboard/validation, but the x-axis is the
global step (as in the report and samples.jsonl) and the events are flushed at once, before the epoch's
checkpoint is written. On resume, `rewind_tensorboard` drops the events after the checkpoint's step from
the event files, so TensorBoard never shows a step twice.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import keras
import tensorflow as tf
from tensorflow.core.util import event_pb2

from charkeras.atomic import fsync_directory
from charkeras.train.callbacks.progress import current_step
from charkeras.train.run_dir import RunDir
from charkeras.train.run_logs import TENSORBOARD_DIR


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
                             for name in ("train", "validation")}
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


def rewind_tensorboard(run_path, step: int, legacy_batches: int | None = None) -> None:
    """Drop events after `step` from every event file of the run. `legacy_batches`: the files come from
    an older charkeras (Keras's callback, x-axis = epoch from 0); their steps become global steps."""
    root = Path(run_path) / TENSORBOARD_DIR
    if not root.is_dir():
        return
    for path in sorted(root.rglob("events.out.tfevents.*")):
        records, changed = [], False
        try:
            for raw in tf.data.TFRecordDataset(str(path)):
                records.append(raw.numpy())
        except (tf.errors.DataLossError, tf.errors.OutOfRangeError):
            changed = True  # a torn last record: keep what precedes it
        kept = []
        for raw in records:
            event = event_pb2.Event.FromString(raw)
            if event.HasField("summary"):
                if legacy_batches:
                    event.step = (event.step + 1) * legacy_batches
                    raw, changed = event.SerializeToString(), True
                if event.step > step:
                    changed = True
                    continue
            kept.append(raw)
        if changed:
            _rewrite(path, kept)


def _rewrite(path: Path, records: list[bytes]) -> None:
    tmp = path.with_name(f".{path.name}.rewind.tmp")
    with tf.io.TFRecordWriter(str(tmp)) as writer:
        for raw in records:
            writer.write(raw)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_directory(path.parent)
