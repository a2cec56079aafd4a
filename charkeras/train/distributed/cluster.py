"""This process's place in a multi-worker job, read from TF_CONFIG without TensorFlow.

The CLI asks before TensorFlow loads (a non-chief worker never locks or writes the run directory);
`strategy` asks the same questions once the strategy exists. TF_CONFIG is checked whole on every
read, so a malformed one is one `ConfigError` naming what is wrong, never a traceback from
TensorFlow.
"""

from __future__ import annotations

import json
import os

from charkeras.errors import ConfigError

# The task types of MultiWorkerMirroredStrategy; parameter servers and evaluators train otherwise.
TASK_TYPES = ("chief", "worker")
_EXAMPLE = ('{"cluster": {"worker": ["host1:port", "host2:port"]}, '
            '"task": {"type": "worker", "index": 0}}')


def tf_config() -> dict:
    """TF_CONFIG as a checked object ({} when it is unset or `{}`)."""
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ConfigError(f"TF_CONFIG is not JSON: {raw[:80]!r}") from None
    if not isinstance(parsed, dict):
        raise ConfigError(f"TF_CONFIG must be a JSON object such as {_EXAMPLE} (got {raw[:80]!r})")
    if parsed:
        _check_cluster(parsed.get("cluster"))
        _check_task(parsed.get("task"), parsed["cluster"])
    return parsed


def _check_cluster(cluster) -> None:
    if not isinstance(cluster, dict) or not cluster:
        raise ConfigError("TF_CONFIG's \"cluster\" must be an object of task lists such as "
                          f"{_EXAMPLE} (got {json.dumps(cluster)[:80]})")
    for kind, addresses in cluster.items():
        if kind not in TASK_TYPES:
            raise ConfigError(f"TF_CONFIG's cluster has {kind!r} tasks: charkeras trains with "
                              "MultiWorkerMirroredStrategy, whose tasks are chief and worker")
        if (not isinstance(addresses, list) or not addresses
                or not all(isinstance(a, str) and _port(a) is not None for a in addresses)):
            raise ConfigError(f"TF_CONFIG's cluster {kind!r} must be a list of \"host:port\" "
                              f"strings (got {json.dumps(addresses)[:80]})")


def _check_task(task, cluster: dict) -> None:
    if not isinstance(task, dict):
        raise ConfigError("TF_CONFIG needs \"task\", an object naming this process's task such as "
                          f"{{\"type\": \"worker\", \"index\": 0}} (got {json.dumps(task)[:80]})")
    kind, index = task.get("type", "worker"), task.get("index", 0)
    if kind not in cluster:
        raise ConfigError(f"TF_CONFIG's task type {kind!r} is not in its cluster "
                          f"(which has {', '.join(map(repr, cluster))})")
    count = len(cluster[kind])
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        raise ConfigError(f"TF_CONFIG's task index must be an integer in [0, {count - 1}] for the "
                          f"{count} {kind} task(s) of its cluster (got {json.dumps(index)})")


def _port(address: str) -> int | None:
    host, _, port = address.rpartition(":")
    return int(port) if host and port.isdigit() and 0 < int(port) < 65536 else None


def cluster() -> dict | None:
    """The cluster TF_CONFIG names ({"worker": ["host:port", ...], ...}), or None."""
    return tf_config().get("cluster") or None


def this_task() -> tuple[str, int]:
    """(type, index) of this process's task; ("worker", 0) off a cluster."""
    task = tf_config().get("task") or {}
    return task.get("type", "worker"), task.get("index", 0)


def other_tasks() -> list[tuple[str, int]]:
    """(type, index) of every task of the cluster but this process's ([] off a cluster)."""
    me = this_task()
    return [(kind, i) for kind, addresses in (cluster() or {}).items()
            for i in range(len(addresses)) if (kind, i) != me]


def task_name(kind: str, index: int) -> str:
    """How messages name a task: "worker 1 (10.0.0.2:12345)"."""
    return f"{kind} {index} ({cluster()[kind][index]})"


def uses_cluster(strategy: str | None) -> bool:
    """Whether `--strategy` (a name; None: auto) makes this process a worker of a cluster."""
    return strategy == "multi-worker" or (strategy in (None, "auto") and cluster() is not None)


def is_chief_task() -> bool:
    """Whether this process is the task that writes the run (True off a cluster)."""
    return cluster() is None or this_task() == chief_task()


def chief_task() -> tuple[str, int]:
    """(type, index) of the task that writes the run: "chief" when the cluster has one, else worker
    0. It also hosts TensorFlow's coordination service."""
    return ("chief", 0) if "chief" in (cluster() or {}) else ("worker", 0)


def worker_count() -> int:
    return sum(len(tasks) for tasks in (cluster() or {}).values())
