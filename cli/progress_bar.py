"""A progress bar on stderr for long commands: redrawn in place on a terminal, silent otherwise."""

from __future__ import annotations

import contextlib
import sys
import time

_REFRESH_SECONDS = 0.2


@contextlib.contextmanager
def progress_bar(label: str, stream=None):
    """Yields `update(done, total)`; draws `label [####----] 41% 3.2s ETA 4.6s` while on a
    terminal."""
    stream = stream or sys.stderr
    try:
        live = stream.isatty()
    except (AttributeError, ValueError):
        live = False
    began, last = time.monotonic(), [0.0]
    drawn = [False]

    def update(done: int, total: int) -> None:
        now = time.monotonic()
        if not live or (now - last[0] < _REFRESH_SECONDS and done < total):
            return
        last[0] = now
        fraction = done / total if total else 1.0
        elapsed = now - began
        eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
        filled = int(30 * fraction)
        stream.write(f"\r{label} [{'#' * filled}{'-' * (30 - filled)}] {fraction:4.0%} "
                     f"{elapsed:.1f}s ETA {eta:.1f}s ")
        stream.flush()
        drawn[0] = True

    try:
        yield update
    finally:
        if drawn[0]:
            stream.write("\r" + " " * 70 + "\r")
            stream.flush()
