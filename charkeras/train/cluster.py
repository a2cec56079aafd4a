"""This process's place in a multi-worker job, read from TF_CONFIG without TensorFlow.

The CLI asks before TensorFlow loads (a non-chief worker never locks or writes the run directory);
charkeras/train/distribution.py asks the same questions once the strategy exists.
"""

from __future__ import annotations

import json
import os

from charkeras.errors import ConfigError


def tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ConfigError(f"TF_CONFIG is not JSON: {raw[:80]!r}") from None
    if not isinstance(parsed, dict):
        raise ConfigError(f"TF_CONFIG must be a JSON object with \"cluster\" and \"task\" (got {raw[:80]!r})")
    return parsed


def cluster() -> dict | None:
    """The cluster TF_CONFIG names ({"worker": ["host:port", ...], ...}), or None."""
    return tf_config().get("cluster") or None


def uses_cluster(strategy: str | None) -> bool:
    """Whether `--strategy` (a name; None: auto) makes this process a worker of a multi-worker job."""
    return strategy == "multi-worker" or (strategy in (None, "auto") and cluster() is not None)


def is_chief_task() -> bool:
    """The task that writes the run: "chief" when the cluster has one, else worker 0; True off a cluster."""
    task = tf_config().get("task") or {}
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    if "chief" in (cluster() or {}):
        return kind == "chief"
    return kind == "worker" and index == 0


def worker_count() -> int:
    return sum(len(tasks) for kind, tasks in (cluster() or {}).items() if kind in ("chief", "worker"))
