"""Atomic, durable writes: write beside the target under a temporary name, fsync, then rename over
it.

A crash, a kill or a power loss leaves either the old file/directory or the new one, never a
half-written one: the new data and its directory entry are fsynced before and after the rename.
Replacing an existing directory is a single atomic exchange on Linux (renameat2 RENAME_EXCHANGE);
elsewhere it takes two renames, and a kill between them leaves the old version as `.NAME.old`,
which the next atomic_directory call for NAME puts back.

Temporaries are named `.NAME.*.tmp` and hold an OS file lock while they are written, so a later
process removes the ones a killed process left behind (unlocked) and never one still being written.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: temporaries are still cleaned, just without the liveness check
    fcntl = None


def write_text_atomic(path: Path, text: str) -> None:
    # backslashreplace: a path given with bytes that are not UTF-8 reaches Python as lone surrogates
    # (e.g. "\udcff"); written as that escape, JSON reads the same string back and a page shows it.
    write_bytes_atomic(path, text.encode("utf-8", "backslashreplace"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        lock_while_writing(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_directory(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def fsync_directory(path: Path) -> None:
    """Make a directory's entries (a rename, a new file) durable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on a directory; nothing more can be done there
        pass
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    """fsync every file and directory under `path` (directories after their contents)."""
    for root, _dirs, files in os.walk(path, topdown=False):
        for name in files:
            fsync_file(Path(root, name))
        fsync_directory(Path(root))


def fsync_file(path: Path) -> None:
    """Make a file's contents durable (one already closed, or appended to by an open writer)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def try_lock(fd: int) -> bool:
    """Take an exclusive OS lock (flock) on the open file `fd` without waiting; False when another
    open file holds it. The OS drops it when `fd` is closed or its process ends in any way, so it is
    never stale. Where the OS has no flock, True: nothing can be locked there."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def lock_while_writing(fd: int) -> None:
    """Hold an OS lock on a temporary being written, so `remove_stale_temporaries` leaves it
    alone."""
    if not try_lock(fd):
        raise BlockingIOError(errno.EAGAIN, "locked by another process")


def remove_stale_temporaries(directory: Path, name: str = "*") -> list[Path]:
    """Remove `.NAME.*.tmp` files and directories in `directory` that no live process is writing
    (their writer's lock is gone: it finished, crashed or was killed); returns what was removed."""
    removed = []
    directory = Path(directory)
    if not directory.is_dir():
        return removed
    for candidate in directory.glob(f".{glob.escape(name) if name != '*' else name}.*.tmp"):
        try:
            fd = os.open(candidate, os.O_RDONLY)
        except OSError:
            continue
        try:
            if not try_lock(fd):
                continue  # still being written by a live process
            if candidate.is_dir() and not candidate.is_symlink():
                shutil.rmtree(candidate, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    candidate.unlink()
            removed.append(candidate)
        finally:
            os.close(fd)
    return removed


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the OS or filesystem cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(b))


def recover_directory(path: Path) -> None:
    """Undo a replacement killed between its two renames: put `.NAME.old` back when NAME is missing,
    drop it when NAME exists."""
    path = Path(path)
    old = path.with_name(f".{path.name}.old")
    if old.is_dir():
        if path.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, path)
            fsync_directory(path.parent)


def _rename_if_absent(tmp: Path, path: Path) -> None:
    """Rename the directory `tmp` to `path` unless `path` is a file or a non-empty directory (a
    plain rename onto an empty directory replaces it; onto a non-empty one it fails, atomically)."""
    try:
        os.rename(tmp, path)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
            raise FileExistsError(errno.EEXIST, "created by another process meanwhile",
                                  str(path)) from None
        raise
    fsync_directory(path.parent)


@contextlib.contextmanager
def atomic_directory(path: Path, replace: bool = True) -> Iterator[Path]:
    """Yield a temporary directory beside `path`; on success it replaces `path` as a whole, durably.

    With `replace=False` it only creates `path`: when another process made `path` a non-empty
    directory (or a file) meanwhile, FileExistsError is raised and that `path` is left as it is.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover_directory(path)
    remove_stale_temporaries(path.parent, path.name)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    lock_fd = os.open(tmp, os.O_RDONLY)
    try:
        lock_while_writing(lock_fd)
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        fsync_tree(tmp)
        if not replace:
            _rename_if_absent(tmp, path)
        elif path.exists():
            if _exchange(tmp, path):
                fsync_directory(path.parent)
                shutil.rmtree(tmp, ignore_errors=True)  # it now holds the old version
            else:
                # Two renames keep a window with no `path` (recover_directory undoes it), never one
                # with a partial `path`.
                old = path.with_name(f".{path.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(path, old)
                os.replace(tmp, path)
                fsync_directory(path.parent)
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
            fsync_directory(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        os.close(lock_fd)
