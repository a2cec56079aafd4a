"""Keep TensorFlow's, absl's, CUDA's and LiteRT's start-up chatter off the terminal (unless
--verbose).

Those lines come from C++ straight to file descriptor 2, where TF_CPP_MIN_LOG_LEVEL does not reach
all of them (absl's "All log messages before absl::InitializeLog()" line, cuInit errors, LiteRT's
XNNPACK INFO line). So the real CLI points fd 2 at a pipe for the whole command and a thread copies
every line that is not such chatter to the real stderr; at exit fd 2 is restored and the pipe
drained, so nothing else is lost or reordered within stderr. Click's test runner (sys.stderr
replaced) and `--verbose` leave stderr alone.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

from charkeras.native_chatter import is_noise  # what chatter looks like: defined once, there


def filter_native_stderr() -> bool:
    """Install the filter on fd 2; returns False (and changes nothing) when it cannot."""
    try:
        real = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
    except OSError:
        return False

    def pump() -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(read_end, 65536)
            except OSError:
                break
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if not is_noise(line))
            if kept:
                os.write(real, kept)
        if pending and not is_noise(pending):
            os.write(real, pending)

    thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    thread.start()

    def restore() -> None:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(real, 2)  # closes the pipe's last write end: the pump sees EOF and drains
        thread.join(timeout=5)

    atexit.register(restore)
    return True
