"""A test hook: SIGKILL this process at a named point of training, to test exact resume from that
stop.

Set CHARKERAS_TEST_KILL_AFTER to one of
    startup                      run files written (or, on resume, the run reopened), before any
                                 step
    checkpoint:N                 right after the N-th checkpoint this process writes (any kind)
    epoch_end_checkpoint:N       right after the N-th epoch-end checkpoint
    during_checkpoint_write:N    inside the N-th checkpoint write: its files are written, not yet
                                 renamed
    step:S                       right after global step S and everything logged for it
N defaults to 1. Unset (always, outside tests), `reached` costs one dictionary lookup.
tests/test_exact_resume_cli.py drives the real CLI with it.
"""

from __future__ import annotations

import os
import signal

ENV = "CHARKERAS_TEST_KILL_AFTER"
_counts: dict[str, int] = {}


def reached(point: str, step: int | None = None) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    name, _, arg = spec.partition(":")
    if name != point:
        return
    if point == "step":
        if step == int(arg):
            os.kill(os.getpid(), signal.SIGKILL)
        return
    _counts[point] = _counts.get(point, 0) + 1
    if _counts[point] == int(arg or 1):
        os.kill(os.getpid(), signal.SIGKILL)
