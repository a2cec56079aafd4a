"""Checking the JSON files charkeras reads back (card.json, config.json, run.json, meta.json,
vocab.json) against a schema: types and ranges, with one-line errors that name the file and the key.

A file written by a newer charkeras (a `format_version` above the one this version writes) is
refused with "upgrade charkeras" rather than misread. No TensorFlow here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from charkeras.errors import CharkerasError


@dataclass(frozen=True)
class Rule:
    """What a value must be: `accepts(value)`, described for the message as `description`."""

    description: str
    accepts: Callable[[object], bool]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def integer(lo: int | None = None, hi: int | None = None) -> Rule:
    return Rule(_range_text("an integer", lo, hi),
                lambda v: _is_int(v) and (lo is None or v >= lo) and (hi is None or v <= hi))


def number(lo: float | None = None, hi: float | None = None, finite: bool = True) -> Rule:
    def accepts(v):
        if not _is_number(v):
            return False
        if not math.isfinite(v):  # NaN or infinity: only where `finite` is False (a diverged loss)
            return not finite
        return (lo is None or v >= lo) and (hi is None or v <= hi)

    return Rule(_range_text("a finite number" if finite else "a number", lo, hi), accepts)


def string(nonempty: bool = False) -> Rule:
    return Rule("a non-empty string" if nonempty else "a string",
                lambda v: isinstance(v, str) and (bool(v) or not nonempty))


def one_of(*values) -> Rule:
    return Rule("one of " + ", ".join(repr(v) for v in values), lambda v: v in values)


def list_of(rule: Rule, min_len: int = 0) -> Rule:
    return Rule(f"a list of {rule.description}" + (f" (at least {min_len})" if min_len else ""),
                lambda v: isinstance(v, list) and len(v) >= min_len
                and all(rule.accepts(x) for x in v))


def mapping() -> Rule:
    return Rule("an object", lambda v: isinstance(v, dict))


def optional(rule: Rule) -> Rule:
    return Rule(f"{rule.description} or null", lambda v: v is None or rule.accepts(v))


def _range_text(kind: str, lo, hi) -> str:
    if lo is not None and hi is not None:
        return f"{kind} in [{lo}, {hi}]"
    if lo is not None:
        return f"{kind} >= {lo}"
    if hi is not None:
        return f"{kind} <= {hi}"
    return kind


def _shown(value) -> str:
    text = json.dumps(value, ensure_ascii=True, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


def check_object(data, spec: dict[str, Rule], where: str, error: type[CharkerasError],
                 required: tuple[str, ...] = ()) -> dict:
    """`data` itself when it is a JSON object whose keys in `spec` follow their rules (keys not in
    `spec` are allowed: newer files may add some); raises `error` naming `where` and the key."""
    if not isinstance(data, dict):
        raise error(f"{where} is not a JSON object (got {_shown(data)})")
    missing = [key for key in required if key not in data]
    if missing:
        raise error(f"{where} is missing {', '.join(missing)}")
    for key, rule in spec.items():
        if key in data and not rule.accepts(data[key]):
            raise error(f"{where}: {key} must be {rule.description} (got {_shown(data[key])})")
    return data


def check_format_version(data: dict, current: int, where: str, error: type[CharkerasError],
                         key: str = "format_version") -> int:
    """The file's format version, which every versioned file is written with; a file without one, or
    with a version newer than `current`, is refused."""
    if key not in data:
        raise error(f"{where} is missing {key}")
    version = data[key]
    if not _is_int(version) or version < 1:
        raise error(f"{where}: {key} must be an integer >= 1 (got {_shown(version)})")
    if version > current:
        raise error(f"{where} has {key} {version}, newer than this charkeras reads ({current}): "
                    "upgrade charkeras (pip install -U charkeras)")
    return version


def read_json(path, error: type[CharkerasError], what: str | None = None):
    """The parsed JSON of `path`; a missing, unreadable, non-UTF-8 or malformed file raises
    `error`."""
    path = Path(path)
    name = what or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{name} is missing") from None
    except OSError as exc:
        raise error(f"{name} is unreadable: {exc.strerror or exc}") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise error(f"{name} is unreadable: not UTF-8 text (the file is damaged)") from None
    except (ValueError, RecursionError) as exc:
        reason = "the file is empty" if not raw.strip() else f"invalid JSON ({exc})"
        raise error(f"{name} is unreadable: {reason}") from None
