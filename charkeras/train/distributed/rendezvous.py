"""The start-up wait of a multi-worker job, bounded and interruptible, before TensorFlow's.

MultiWorkerMirroredStrategy's constructor waits in C++ until every worker of TF_CONFIG has started,
with no limit, and Python's signal handlers cannot run meanwhile: a worker whose peer never starts
would hang deaf to Ctrl-C and SIGTERM. So each worker first waits here, in Python: it holds its own
TF_CONFIG port open (a listening socket that only lets peers see it has started) and probes the
other workers' ports until each accepts a connection. Signals stop the wait at once (the session's
handlers raise between probes); after `timeout` seconds it ends with an error naming the workers not
reached. Then the port is released and TensorFlow's server takes it; every peer was seen alive, so
TensorFlow's own wait is short.
No TensorFlow here.
"""

from __future__ import annotations

import errno
import socket
import time

from charkeras.errors import ConfigError, WorkerLost
from charkeras.train.distributed.cluster import cluster, other_tasks, task_name, this_task

PROBE_SECONDS = 1.0  # one connection attempt's limit
POLL_SECONDS = 0.25  # between rounds of probes


def wait_for_peers(timeout: float) -> None:
    """Return once every other task of TF_CONFIG's cluster accepts connections on its port."""
    peers = other_tasks()
    listener = _hold(_address(*this_task()))
    try:
        deadline = time.monotonic() + timeout
        while peers:
            peers = [peer for peer in peers if not _accepts(_address(*peer))]
            if peers and time.monotonic() >= deadline:
                missing = ", ".join(task_name(*peer) for peer in peers)
                raise WorkerLost(f"the multi-worker job did not start: {missing} not reached "
                                 f"within {timeout:g} s (--cluster-timeout); start every worker of "
                                 "TF_CONFIG's cluster, each with its own task")
            if peers:
                time.sleep(POLL_SECONDS)  # a Ctrl-C or SIGTERM raises here (the session's handler)
    finally:
        listener.close()


def _address(kind: str, index: int) -> tuple[str, int]:
    host, _, port = cluster()[kind][index].rpartition(":")
    return host.strip("[]"), int(port)


def _hold(address: tuple[str, int]) -> socket.socket:
    """Listen on this task's port, on every interface as TensorFlow's server will."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("", address[1]))
        listener.listen(64)  # never accepted: the kernel completes the peers' probes on its own
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            host, port = address
            raise ConfigError(f"port {port}, this worker's in TF_CONFIG ({host}:{port}), is in use "
                              "by another process on this machine") from None
        raise
    return listener


def _accepts(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=PROBE_SECONDS):
            return True
    except OSError:  # refused (not started yet), unreachable, unknown host or timed out: try again
        return False
