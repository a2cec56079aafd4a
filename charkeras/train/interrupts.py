"""Stopping a training run cleanly on Ctrl-C (SIGINT) and SIGTERM, and what `fit` holds while it
runs.

`fit` runs inside a training session (`training_session`). In the main thread the session handles
SIGINT and SIGTERM (`kill`, nohup shells, schedulers, `docker stop`) the same way:
  - during start-up (reading the corpus, building the model) a signal stops at once: nothing is
    half-written by then that a later `fit --resume` or `fit --force` cannot handle;
  - during training the first signal is deferred to the end of the current step, after everything
    logged for that step: `callbacks/safe_point.py` then writes a checkpoint at that step and stops,
    so the checkpoint, log.csv, samples.jsonl and TensorBoard agree and the resume is exact; a
    second signal stops at once without saving (resume then continues from the last checkpoint).
Either way `fit` raises `Interrupted` (a KeyboardInterrupt) after printing one line that says what
was saved and how to continue; the CLI exits 128 + the signal number (130 for SIGINT, 143 for
SIGTERM). The session also releases the run's lock (run_lock.py) on every exit. No TensorFlow here:
the CLI enters a session before it imports TensorFlow, so a Ctrl-C during that import is clean too.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from charkeras.train.run.lock import RunLock

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Training stopped by a signal (or Ctrl-C); `exit_code` is what a shell reports for it.

    `together`: every worker of a multi-worker job stops at this step (they agreed on it)."""

    def __init__(self, signum: int = signal.SIGINT, forced: bool = False, together: bool = False):
        super().__init__(signal.Signals(signum).name)
        self.signum, self.forced, self.together = signum, forced, together

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@dataclass
class Session:
    locks: list[RunLock] = field(default_factory=list)
    run_path: Path | None = None  # set once the run can be continued with --resume
    saved: Path | None = None  # the checkpoint written on the way out
    reported: bool = False

    def hold(self, lock: RunLock) -> None:
        self.locks.append(lock)

    def release(self) -> None:
        while self.locks:
            self.locks.pop().release()

    def report(self, exc: BaseException) -> None:
        """Print the one line that says what an interruption left behind (once)."""
        if self.reported:
            return
        self.reported = True
        name = signal.Signals(getattr(exc, "signum", signal.SIGINT)).name
        if self.saved is not None:
            line = f"interrupted ({name}): saved {self.saved}"
        elif self.run_path is None:
            line = f"interrupted ({name}) before anything was written"
        elif getattr(exc, "forced", False):
            line = f"interrupted ({name}) at once, without saving"
        else:
            line = f"interrupted ({name}) before the first step"
        if self.run_path is not None:
            line += f"; continue with: charkeras fit --resume {self.run_path}"
        print(f"\n{line}", file=sys.stderr, flush=True)


_session: contextvars.ContextVar[Session | None] = contextvars.ContextVar("charkeras_session",
                                                                          default=None)


class _Signals:
    """Process-wide: which handlers are installed and whether a stop is pending."""

    def __init__(self):
        self.depth = 0
        self.previous: dict[int, object] = {}
        self.deferred = False
        self.requested: int | None = None

    def handler(self, signum, frame):
        if self.deferred and self.requested is None:
            self.requested = signum
            print(f"\n{signal.Signals(signum).name}: stopping after this step and saving a "
                  "checkpoint (again to stop at once without saving)", file=sys.stderr, flush=True)
            return
        raise Interrupted(signum, forced=self.requested is not None)


_signals = _Signals()


def current_session() -> Session | None:
    return _session.get()


@contextlib.contextmanager
def session():
    """Enter a training session (re-entrant: an inner one is the outer one)."""
    outer = _session.get()
    if outer is not None:
        yield outer
        return
    current = Session()
    token = _session.set(current)
    installed = _install()
    try:
        yield current
    except KeyboardInterrupt as exc:
        current.report(exc)
        raise
    finally:
        current.release()
        if installed:
            _uninstall()
        _session.reset(token)


def training_session(function):
    """Run `function` (fit) inside a session."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with session():
            return function(*args, **kwargs)

    return wrapper


def _install() -> bool:
    if threading.current_thread() is not threading.main_thread():
        # signals reach the main thread only; a fit in another thread keeps Python's default
        return False
    if _signals.depth == 0:
        _signals.requested, _signals.deferred = None, False
        for signum in _SIGNALS:
            _signals.previous[signum] = signal.signal(signum, _signals.handler)
    _signals.depth += 1
    return True


def _uninstall() -> None:
    _signals.depth -= 1
    if _signals.depth == 0:
        for signum, previous in _signals.previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        _signals.previous.clear()
        _signals.requested, _signals.deferred = None, False


def defer(on: bool) -> None:
    """While on (training), a first signal only asks to stop at the next safe point
    (`stop_requested`)."""
    _signals.deferred = on


def stop_requested() -> int | None:
    """The signal that asked training to stop at the next safe point, or None."""
    return _signals.requested
