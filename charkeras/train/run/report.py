"""The training report of a run directory: REPORT_FILE and its plot PLOT_FILE, rebuilt from the
run's own files at any time (`write_report`) and during training (`callbacks.report_refresh`).

Sources, all written by training (`logs` describes them):
  LOG_FILE          one row per epoch end (epoch counted from 1, its global step, losses, lr)
  STEPS_FILE, VALIDATIONS_FILE   the step-axis curves of the plot (`report_curves`)
  SAMPLES_FILE      one generated sample per line
  checkpoints, CONFIG_FILE, RUN_FILE   the step reached, the run's settings and corpus facts
The step the page states is the newest step any of them records, so a run stopped before its first
epoch end (a time budget, Ctrl-C) or resumed is described as it is. A resumed run may repeat steps
in a log it appended to before a crash: the last record for an epoch or step wins.

The page is self-contained (the PNG is inlined as a data URI) and makes no network requests.
No TensorFlow here.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import math
import time
from pathlib import Path

from charkeras.atomic import write_bytes_atomic, write_text_atomic
from charkeras.data.streams import StreamLayout
from charkeras.errors import RunDirError, warn
from charkeras.probability import LN2, bits
from charkeras.train.planning import planned_steps
from charkeras.train.run.directory import RunDir
from charkeras.train.run.names import (
    CHECKPOINT_PREFIX,
    LOG_FILE,
    PLOT_FILE,
    REPORT_FILE,
    SAMPLES_FILE,
)
from charkeras.train.run.report_curves import curves_png, read_curves

_COLUMNS = ("loss", "val_loss", "lr")


def read_epochs(run_path, latest_epoch: dict | None = None) -> list[dict]:
    """Epoch rows of LOG_FILE (plus `latest_epoch`, a row not written yet), one per epoch, in order:
    epoch (from 1) and step as ints, the losses and lr as floats or None."""
    rows: dict[int, dict] = {}
    log = Path(run_path) / LOG_FILE
    if log.is_file():
        try:
            with open(log, newline="", encoding="utf-8") as f:
                for raw in csv.DictReader(f):
                    row = _numeric_row(raw)
                    if row is not None:
                        rows[row["epoch"]] = row
        except (UnicodeDecodeError, csv.Error) as exc:
            raise RunDirError(f"{log} is not a training log ({type(exc).__name__}: {exc}); "
                              "move it away to rebuild the report without it") from None
    if latest_epoch is not None:
        row = _numeric_row(latest_epoch)
        if row is not None:
            rows[row["epoch"]] = row
    return [rows[e] for e in sorted(rows)]


def _numeric_row(raw: dict) -> dict | None:
    try:
        row = {"epoch": int(float(raw["epoch"])), "step": int(float(raw["step"]))}
    except (KeyError, TypeError, ValueError):
        return None  # a header repeated by an appended log, or a torn last line
    for key in _COLUMNS:
        try:
            row[key] = float(raw[key])
        except (KeyError, TypeError, ValueError):
            row[key] = None
    return row


def read_samples(run_path) -> list[dict]:
    """Samples in step order; a step sampled twice (after a resume) keeps its latest text."""
    path = Path(run_path) / SAMPLES_FILE
    by_step: dict[int, dict] = {}
    if path.is_file():
        # errors="replace": a damaged line becomes unparsable JSON and is skipped like a torn one
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                sample = json.loads(line)
                by_step[int(sample["step"])] = sample
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash mid-write
    return [by_step[s] for s in sorted(by_step)]


def steps_per_epoch(run: RunDir) -> int | None:
    """Batches per epoch, derived the way training derives them (None if run.json lacks the
    size)."""
    config = run.read_config()
    try:
        train_chars = int(run.read_run_info()["train_chars"])
    except (OSError, ValueError, KeyError, RunDirError):
        return None
    return StreamLayout.for_length(train_chars, config.data.batch_size, config.data.seq_len).batches


def step_reached(run: RunDir, epochs: list[dict], steps: list[dict],
                 validations: list[dict]) -> int:
    """The newest step the run's logs or checkpoints record (0 before the first)."""
    found = [rows[-1]["step"] for rows in (epochs, steps, validations) if rows]
    latest = run.latest_checkpoint()
    if latest is not None:
        found.append(int(latest.name[len(CHECKPOINT_PREFIX):]))
    return max(found, default=0)


def write_report(run_path, latest_epoch: dict | None = None) -> Path:
    """(Re)write the run's REPORT_FILE and PLOT_FILE; returns the report's path."""
    run = RunDir(run_path)
    config = run.read_config()  # raises RunDirError for a directory that is not a run
    try:
        info = run.read_run_info()
    except (OSError, ValueError, RunDirError):
        info = {}
    epochs = read_epochs(run.path, latest_epoch)
    steps, validations = read_curves(run.path)
    png = curves_png(steps, validations)
    if png is not None:
        write_bytes_atomic(run.path / PLOT_FILE, png)
    step = step_reached(run, epochs, steps, validations)
    page = _page(run, config, info, _progress(config.train, steps_per_epoch(run), step), epochs,
                 validations, read_samples(run.path), png)
    write_text_atomic(run.path / REPORT_FILE, page)
    return run.path / REPORT_FILE


def _progress(train, batches: int | None, step: int) -> str:
    """"step S of P (epoch E of N)": P as planned now (before a time budget's plan: not known
    yet)."""
    if train.time_budget and not train.max_steps:
        return f"step {step:,} (the time budget plans the total after the first steps)"
    if not batches:
        return f"step {step:,}"
    total = planned_steps(train, batches)
    return (f"step {step:,} of {total:,} (epoch {max(1, math.ceil(step / batches)):,} of "
            f"{math.ceil(total / batches):,})")


def update_report(run_path, latest_epoch: dict | None = None) -> None:
    """`write_report` for use during training: the report is a convenience, so a failure to write it
    (a full disk, an odd log line) is a warning and never stops a long training run."""
    try:
        write_report(run_path, latest_epoch)
    except Exception as exc:  # noqa: BLE001 - see docstring
        warn(f"{Path(run_path) / REPORT_FILE} not updated: {exc}")


def _fmt(value, spec=".4f") -> str:
    return "\u2013" if value is None else format(value, spec)


def _page(run, config, info, progress, epochs, validations, samples, png) -> str:
    e = html.escape
    m, d, t = config.model, config.data, config.train
    best = min(validations, key=lambda r: r["val_loss"], default=None)
    last = epochs[-1] if epochs else None
    facts = [
        ("corpus", (f"{info.get('source', '?')} ({info.get('chars', '?')} characters, "
                   f"{info.get('train_chars', '?')} for training, {info.get('val_chars', '?')} "
                   "held out)")),
        ("model", (f"{m.layers} x LSTM({m.units}), embedding {m.embedding_dim}, dropout "
                  f"{m.dropout}, vocabulary {m.vocab_size}")),
        ("training", (f"batch {d.batch_size} x {d.seq_len} chars, {t.optimizer} lr "
                     f"{t.learning_rate} ({t.lr_schedule}), clipnorm {t.clipnorm}, seed {t.seed}")),
        ("progress", progress),
        ("latest epoch", "no epoch finished yet" if last is None else
                         f"epoch {last['epoch']} (step {last['step']:,}): train "
                         f"{_fmt(last['loss'])}, val {_fmt(last['val_loss'])} nats/char"),
        ("best validation", "\u2013" if best is None else
                            f"{best['val_loss']:.4f} nats/char = {best['val_loss'] / LN2:.4f} bpc "
                            f"(step {best['step']:,}, of {len(validations)} validations)"),
        ("updated", time.strftime("%Y-%m-%d %H:%M:%S %Z")),
    ]
    fact_rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts)
    epoch_rows = "".join(
        f"<tr><td>{r['epoch']}</td><td>{r['step']}</td>"
        f"<td>{_fmt(r['loss'])}</td><td>{_fmt(bits(r['loss']))}</td>"
        f"<td>{_fmt(r['val_loss'])}</td><td>{_fmt(bits(r['val_loss']))}</td>"
        f"<td>{_fmt(r['lr'], '.3g')}</td></tr>" for r in epochs)
    plot = (f'<img id="loss-plot" alt="loss and learning rate against steps" '
            f'src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'
            if png else "<p>No plot yet: it appears after the first steps (and needs "
                        "matplotlib).</p>")
    sample_items = "".join(_sample_item(s) for s in samples)
    title = f"charkeras training report: {run.path.resolve().name}"
    return _TEMPLATE.format(
        title=e(title), facts=fact_rows, plot=plot, epoch_rows=epoch_rows or
        '<tr><td colspan="7">no epoch finished yet</td></tr>',
        sample_count=len(samples), samples=sample_items or "<li>no samples yet</li>")


def _sample_item(sample: dict) -> str:
    meta = f"step {int(sample['step'])}"
    if sample.get("val_loss") is not None:
        meta += f" \u00b7 last val loss {float(sample['val_loss']):.4f}"
    return (f'<li class="sample"><div class="meta">{html.escape(meta)}</div>'
            f"<pre>{html.escape(str(sample.get('text', '')))}</pre></li>")


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<link rel="icon" href="data:,">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 16px 24px; color: #222; max-width: 1200px; }}
h1 {{ font-size: 20px; }} h2 {{ font-size: 16px; margin-top: 24px; }}
table {{ border-collapse: collapse; font-size: 13px; }}
th, td {{ border: 1px solid #ddd; padding: 3px 8px; text-align: left; }}
#epochs td {{ text-align: right; font-variant-numeric: tabular-nums; }}
img {{ max-width: 100%; }}
ol {{ padding-left: 0; list-style: none; }}
.sample {{ margin-bottom: 10px; }}
.meta {{ font-size: 12px; color: #555; }}
pre {{ background: #f6f6f6; border: 1px solid #e3e3e3; padding: 6px 8px; margin: 2px 0;
       white-space: pre-wrap; font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace;
       font-size: 13px; }}
</style>
</head>
<body>
<h1>{title}</h1>
<table id="facts">{facts}</table>
<h2>Loss and learning rate</h2>
{plot}
<h2>Epochs</h2>
<table id="epochs"><tr><th>epoch</th><th>step</th><th>train loss</th><th>train bpc</th>
<th>val loss</th><th>val bpc</th><th>lr</th></tr>{epoch_rows}</table>
<h2>Samples during training ({sample_count}, in step order)</h2>
<ol id="samples">{samples}</ol>
</body>
</html>
"""
