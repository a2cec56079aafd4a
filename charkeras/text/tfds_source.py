"""Training text from TensorFlow Datasets: `tfds:NAME[:SPLIT]` sources of `charkeras fit`.

Every failure is one CorpusError line: an unknown name (TFDS's own message lists all ~450 datasets),
a dataset not downloaded yet while the network is unreachable (checked before TFDS spends minutes
retrying), a failed download, a missing split.
"""

from __future__ import annotations

import os
import socket

import tensorflow as tf
import tensorflow_datasets as tfds

from charkeras.errors import CorpusError

# Where TFDS keeps most prepared datasets; if its name does not resolve, no download can work.
_PROBE_HOST = "storage.googleapis.com"


def read_tfds_text(spec: str) -> str:
    """All text of a TFDS dataset split (`NAME` or `NAME:SPLIT`, default split `train`),
    concatenated."""
    name, _, split = spec.partition(":")
    split = split or "train"
    try:
        builder = tfds.builder(name)
    except tfds.core.registered.DatasetNotFoundError:
        raise CorpusError(f"TensorFlow Datasets has no dataset named {name!r} "
                          "(the catalog: https://www.tensorflow.org/datasets/catalog)") from None
    except Exception as exc:  # noqa: BLE001 -- e.g. a version that does not exist
        raise CorpusError(f"cannot load TensorFlow Datasets {name!r}: {_first_line(exc)}") from None
    if not builder.is_prepared():
        if not network_reachable():
            raise CorpusError(f"TensorFlow Datasets {name!r} is not downloaded yet (into "
                              f"{builder.data_dir}) and the network is unreachable: connect once, "
                              "or copy a prepared copy there")
        try:
            builder.download_and_prepare()
        except Exception as exc:  # noqa: BLE001 -- network, disk and parsing failures alike
            raise CorpusError(
                f"cannot download TensorFlow Datasets {name!r}: {_first_line(exc)}") from None
    try:
        ds = builder.as_dataset(split=split)
    except Exception as exc:  # noqa: BLE001 -- unknown split: ValueError; damaged copy: anything
        raise CorpusError(f"cannot read TensorFlow Datasets {name!r} split {split!r}: "
                          f"{_first_line(exc)}") from None
    key = _text_feature(ds.element_spec, name)
    parts = [example[key].decode("utf-8") for example in tfds.as_numpy(ds)]
    return "\n".join(parts)


def network_reachable() -> bool:
    """False when the download host's name does not resolve (offline). A configured proxy counts as
    reachable: the proxy, not this machine, resolves names then."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    try:
        socket.getaddrinfo(_PROBE_HOST, 443)
        return True
    except OSError:
        return False


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _text_feature(element_spec: dict, name: str) -> str:
    keys = [k for k, spec in element_spec.items() if spec.dtype == tf.string
            and spec.shape.rank == 0]
    if not keys:
        raise CorpusError(f"TensorFlow Datasets {name!r} has no scalar text feature")
    return "text" if "text" in keys else keys[0]
