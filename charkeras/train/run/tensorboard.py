"""Rewinding the run's TensorBoard event files on resume: the events after the checkpoint's step are
dropped, so TensorBoard never shows a step twice (`callbacks.tensorboard_log` writes them)."""

from __future__ import annotations

import os
from pathlib import Path

import tensorflow as tf
from tensorflow.core.util import event_pb2

from charkeras.atomic import fsync_directory, fsync_file
from charkeras.train.run.names import EVENT_FILES, TENSORBOARD_DIR


def rewind_tensorboard(run_path, step: int) -> None:
    """Drop events after `step` from every event file of the run; a torn last record goes too."""
    root = Path(run_path) / TENSORBOARD_DIR
    if not root.is_dir():
        return
    for path in sorted(root.rglob(EVENT_FILES)):
        records, changed = [], False
        try:
            for raw in tf.data.TFRecordDataset(str(path)):
                records.append(raw.numpy())
        except (tf.errors.DataLossError, tf.errors.OutOfRangeError):
            changed = True  # a torn last record: keep what precedes it
        kept = []
        for raw in records:
            event = event_pb2.Event.FromString(raw)
            if event.HasField("summary") and event.step > step:
                changed = True
                continue
            kept.append(raw)
        if changed:
            _rewrite(path, kept)


def _rewrite(path: Path, records: list[bytes]) -> None:
    # TFRecordWriter writes the file itself, so not `write_bytes_atomic`: its temp + rename here.
    tmp = path.with_name(f".{path.name}.rewind.tmp")
    with tf.io.TFRecordWriter(str(tmp)) as writer:
        for raw in records:
            writer.write(raw)
    fsync_file(tmp)
    os.replace(tmp, path)
    fsync_directory(path.parent)
