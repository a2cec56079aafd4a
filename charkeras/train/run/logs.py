"""The run's logs, kept in step with its checkpoints (file names: `names`):

    LOG_FILE          one row per finished epoch: epoch (counted from 1, like the console and the
                      report), step (the global step at its end), then the epoch's logs in name
                      order (bpc, loss, lr, val_bpc, val_loss)
    STEPS_FILE, VALIDATIONS_FILE   the report's step-axis curves, rows by step
                      (`callbacks.curve_logs` chooses their columns)
    SAMPLES_FILE      one generated sample per line: step, val_loss (the last one measured), text
    TENSORBOARD_DIR   event files (written by `callbacks.tensorboard_log`, rewound by `tensorboard`)

Everything logged for a step is written before the checkpoint of that step (the loggers run before
the Checkpointer, and `sync_logs` makes them durable first), so a resume from the checkpoint at step
S drops the rows after S (`rewind_logs`) and writes them again: the logs of a stopped and resumed
run equal those of an unbroken one, with no repeated or missing row. No TensorFlow here.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

from charkeras.atomic import fsync_file, write_text_atomic
from charkeras.train.run.names import (
    EVENT_FILES,
    LOG_FILE,
    SAMPLES_FILE,
    STEPS_FILE,
    TENSORBOARD_DIR,
    VALIDATIONS_FILE,
)

_FIRST_COLUMNS = ("epoch", "step")


def append_row(path: Path, columns, row: dict) -> None:
    """Append one row to the CSV log `path` with a fixed set of columns (a header first, when
    new)."""
    new = not path.is_file() or path.stat().st_size == 0
    with open(path, "a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        if new:
            writer.writeheader()
        writer.writerow(row)


def append_sample(run_path, step: int, val_loss: float | None, text: str) -> None:
    """Append one generated sample to SAMPLES_FILE."""
    with open(Path(run_path) / SAMPLES_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps({"step": step, "val_loss": val_loss, "text": text}, ensure_ascii=False)
                + "\n")


def append_log_row(run_path, row: dict) -> None:
    """Append one epoch row to log.csv (adding columns, by a rewrite, when the row brings new
    ones)."""
    path = Path(run_path) / LOG_FILE
    header, rows = _read_log(path)
    values = {key: _cell(value) for key, value in row.items()}
    if header is None or any(key not in header for key in values):
        known = set(header or ()) | set(values)
        header = [c for c in _FIRST_COLUMNS if c in known] + sorted(known - set(_FIRST_COLUMNS))
        _write_log(path, header, rows + [values])
        return
    with open(path, "a", newline="", encoding="utf-8") as f:
        csv.DictWriter(f, header, restval="").writerow(values)


def _cell(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    try:
        return repr(float(value))
    except (TypeError, ValueError):
        return str(value)


def _read_log(path: Path) -> tuple[list[str] | None, list[dict]]:
    if not path.is_file():
        return None, []
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            return None, []
        rows = [dict(zip(header, cells)) for cells in reader if cells and cells != header]
    return header, rows


def _write_log(path: Path, header: list[str], rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, header, restval="", extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def rewind_logs(run_path, step: int) -> None:
    """Drop what the logs hold for steps after `step` (those a resume from the checkpoint at `step`
    runs again); torn last lines go too."""
    path = Path(run_path) / LOG_FILE
    header, rows = _read_log(path)
    if header is not None:
        kept = [row for row in rows if 0 <= _int(row.get("step")) <= step]
        _write_log(path, header, kept)
    for name in (STEPS_FILE, VALIDATIONS_FILE):
        curve = Path(run_path) / name
        header, rows = _read_log(curve)
        if header is not None and "step" in header:
            kept = [row for row in rows if 0 <= _int(row.get("step")) <= step]
            if kept != rows:
                _write_log(curve, header, kept)
    samples = Path(run_path) / SAMPLES_FILE
    if samples.is_file():
        lines = samples.read_text(encoding="utf-8", errors="replace").splitlines()
        kept_lines = [line for line in lines if 0 <= _sample_step(line) <= step]
        if kept_lines != lines or not samples.read_bytes().endswith(b"\n"):
            write_text_atomic(samples, "".join(line + "\n" for line in kept_lines))


def _int(value) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return -1


def _sample_step(line: str) -> int:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return -1


def sync_logs(run_path) -> None:
    """Make every log durable, TensorBoard's event files included (before a checkpoint is
    written)."""
    run_path = Path(run_path)
    files = [run_path / name for name in (LOG_FILE, SAMPLES_FILE, STEPS_FILE, VALIDATIONS_FILE)]
    tensorboard = run_path / TENSORBOARD_DIR
    if tensorboard.is_dir():
        files += [p for p in tensorboard.rglob(EVENT_FILES) if p.is_file()]
    for path in files:
        with contextlib.suppress(OSError):  # a log not written yet
            fsync_file(path)
