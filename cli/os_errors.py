"""Operating-system errors that are the user's environment, not a bug: turned into one `error:`
line.

A read-only or full disk, a permission, or a path through a file reaches the command line as an
OSError from wherever the write happened (a checkpoint, an export, a report page, the corpus cache).
Only these errno values are translated, and only with the path they concern; any other OSError is
a bug and keeps its traceback. CHARKERAS_TRACEBACK=1 shows the traceback of these too.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

HINTS = {
    errno.ENOSPC: "free some space or write somewhere else",
    errno.EDQUOT: "free some space or write somewhere else",
    errno.EROFS: "choose a writable location",
    errno.EACCES: "choose a location you can write, or change its permissions",
    errno.EPERM: "an immutable or protected file or directory? choose another location",
    errno.ENOTDIR: "a part of this path is a file, not a directory",
    errno.EISDIR: "give a file name, not a directory",
    errno.ENAMETOOLONG: "shorten the path",
    # a directory that cannot be created, such as one under /proc
    errno.ENOENT: "a directory on this path does not exist and cannot be created there",
}


def user_message(exc: OSError) -> str | None:
    """The `error:` text for an OSError caused by the environment, or None for one that is a bug."""
    if os.environ.get("CHARKERAS_TRACEBACK"):
        return None
    code = exc.errno
    if code == errno.EEXIST and exc.filename is not None and Path(exc.filename).exists() \
            and not Path(exc.filename).is_dir():
        return f"{exc.filename}: is a file where a directory is needed (choose another path)"
    if code not in HINTS:
        return None
    where = exc.filename
    if where is not None and Path(where).name.startswith(".") and Path(where).name.endswith(".tmp"):
        where = str(Path(where).parent)  # a temporary file beside the target: name the directory
    reason = exc.strerror or os.strerror(code)
    return f"{where}: {reason} ({HINTS[code]})" if where else f"{reason} ({HINTS[code]})"
