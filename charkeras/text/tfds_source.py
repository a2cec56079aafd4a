"""Training text from TensorFlow Datasets: `tfds:NAME[:SPLIT]` sources of `charkeras fit`."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_datasets as tfds

from charkeras.errors import CorpusError


def read_tfds_text(spec: str) -> str:
    """All text of a TFDS dataset split (`NAME` or `NAME:SPLIT`, default split `train`), concatenated."""
    name, _, split = spec.partition(":")
    split = split or "train"
    try:
        ds = tfds.load(name, split=split)
    except Exception as exc:  # noqa: BLE001 -- tfds raises many types: unknown name, no download, bad split
        raise CorpusError(f"cannot load TensorFlow Datasets text {name!r} split {split!r}: {exc}") from None
    key = _text_feature(ds.element_spec, name)
    parts = [example[key].decode("utf-8") for example in tfds.as_numpy(ds)]
    return "\n".join(parts)


def _text_feature(element_spec: dict, name: str) -> str:
    keys = [k for k, spec in element_spec.items() if spec.dtype == tf.string and spec.shape.rank == 0]
    if not keys:
        raise CorpusError(f"TensorFlow Datasets {name!r} has no scalar text feature")
    return "text" if "text" in keys else keys[0]
