"""Exceptions that carry a message meant for the user, and `warn`, the one way to warn them.

The CLI prints `str(error)` on one line and exits with code 2 for every subclass of CharkerasError;
anything else is a bug and keeps its traceback.
"""

import sys


class CharkerasError(Exception):
    """Base class for errors caused by the user's input, not by a bug."""


class ConfigError(CharkerasError, ValueError):
    """An option or configuration value is out of range or inconsistent."""


class CorpusError(CharkerasError):
    """The training text cannot be read, is empty, or is too short."""


class RunDirError(CharkerasError):
    """The run directory is missing, belongs to another run, or cannot be resumed."""


class ModelLoadError(CharkerasError):
    """A model directory is missing, corrupt, or of an unknown kind."""


class TrainingDiverged(CharkerasError):
    """The loss became NaN or exploded; the last good checkpoint is kept."""


class WorkerLost(CharkerasError):
    """A worker of a multi-worker job stopped; the others cannot go on without it."""


class WorkersDisagree(WorkerLost):
    """The workers of a multi-worker job found, together, that they cannot train as one job (other
    options, other resume points): every worker raises it at the same point."""

    together = True


class ExportError(CharkerasError):
    """An export target is unusable, or a converted model fails its checks."""


class RuntimeMissing(CharkerasError):
    """An optional runtime (ai-edge-litert) is not installed."""


def require(condition: bool, message: str, error: type[CharkerasError] = ConfigError) -> None:
    """The one way to check an option: raise `error(message)` when `condition` does not hold.

    Messages name the CLI flag and say what to pass, e.g. "--n must be an integer >= 1 (got 0)".
    """
    if not condition:
        raise error(message)


def warn(message: str) -> None:
    """The one way to warn: a `warning: message` line on stderr, from the library and the CLI alike
    (so a Python warning's file and line never reach a command's output)."""
    print(f"warning: {message}", file=sys.stderr, flush=True)
