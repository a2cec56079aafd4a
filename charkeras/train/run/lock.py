"""The run directory's lock: one training process per run.

`fit` (new, --force or --resume) holds an OS file lock (`atomic.try_lock`) on the run's LOCK_FILE
while it trains. The OS drops it when the process ends in any way (exit, exception, Ctrl-C, SIGKILL,
a crash), so a lock is never stale; a second process finds it taken and stops with one `error:` line
before writing anything. The file itself stays (deleting a lock file races with its next user); it
holds the pid of the last holder, for the message. flock is advisory and may not work across NFS
clients.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from charkeras.atomic import try_lock
from charkeras.errors import RunDirError
from charkeras.train.run.names import LOCK_FILE


class RunLock:
    def __init__(self, directory):
        self.path = Path(directory) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock or raise RunDirError naming the process that holds it. The directory must
        exist."""
        if self._fd is not None:
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        # (always taken where the OS has no flock: documented in docs/guarantees.md)
        if not try_lock(fd):
            os.close(fd)
            raise _in_use(self.path)
        os.ftruncate(fd, 0)
        since = time.strftime("%Y-%m-%d %H:%M:%S")
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {since}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def check_not_locked(directory) -> None:
    """Raise RunDirError when another process holds the lock of `directory`; writes nothing."""
    path = Path(directory) / LOCK_FILE
    if not path.is_file():
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        free = try_lock(fd)
    finally:
        os.close(fd)
    if not free:
        raise _in_use(path)


def _in_use(lock_path: Path) -> RunDirError:
    try:
        holder = lock_path.read_text(errors="replace").strip()
    except OSError:
        holder = ""
    who = f" ({holder})" if holder else ""
    return RunDirError(f"{lock_path.parent} is in use by another charkeras process{who}: wait for "
                       "it to finish or stop it (Ctrl-C or kill saves a checkpoint), then run "
                       "again")
