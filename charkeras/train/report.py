"""The training report of a run directory: report.html and loss.png, rebuilt from the run's own files.

Sources (written by the training callbacks, charkeras/train/callbacks/, and the fit driver):
  log.csv        one row per finished epoch: loss, bpc, val_loss, val_bpc, lr (Keras CSVLogger)
  samples.jsonl  one generated sample per line: step, val_loss (the last one measured), text
  config.json, run.json   the run's settings and corpus facts
The training callback calls `update_report` at every epoch end, before the CSV logger has written that
epoch's row, so it passes the row along. A resumed run may repeat epochs and samples: the last
record for an epoch or step wins.

The page is self-contained (the PNG is inlined as a data URI) and makes no network requests.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import time
import warnings
from pathlib import Path

from charkeras.atomic import write_bytes_atomic, write_text_atomic
from charkeras.data.streams import StreamLayout
from charkeras.errors import RunDirError
from charkeras.probability import LN2, bits
from charkeras.train.report_curves import curves_png, finish_png, loss_and_lr_figure, read_curves
from charkeras.train.run_dir import RunDir

REPORT_FILE = "report.html"
PLOT_FILE = "loss.png"
_COLUMNS = ("loss", "val_loss", "lr")


def read_epochs(run_path, latest_epoch: dict | None = None) -> list[dict]:
    """Epoch rows from log.csv (plus `latest_epoch`), one per epoch, in order; numbers as floats."""
    rows: dict[int, dict] = {}
    log = Path(run_path) / "log.csv"
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
    """A row with `epoch` counted from 0 inside this module: log.csv rows with a step column count from 1
    (charkeras/train/run_logs.py), older logs and the row training passes along from 0."""
    try:
        row = {"epoch": int(float(raw["epoch"]))}
    except (KeyError, TypeError, ValueError):
        return None  # a header repeated by an appended log, or a torn last line
    if raw.get("step") not in (None, ""):
        row["epoch"] -= 1
    for key in _COLUMNS:
        try:
            row[key] = float(raw[key])
        except (KeyError, TypeError, ValueError):
            row[key] = None
    return row


def read_samples(run_path) -> list[dict]:
    """Samples in step order; a step sampled twice (after a resume) keeps its latest text."""
    path = Path(run_path) / "samples.jsonl"
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
    """Batches per epoch, derived the way training derives them (None if run.json lacks the size)."""
    config = run.read_config()
    try:
        train_chars = int(run.read_run_info()["train_chars"])
    except (OSError, ValueError, KeyError, RunDirError):
        return None
    return StreamLayout.for_length(train_chars, config.data.batch_size, config.data.seq_len).batches


def plot_png(epochs: list[dict], batches: int | None) -> bytes | None:
    """Loss (nats/char, with a bpc axis) and learning rate at epoch ends, for runs that predate
    steps.csv; None when there is nothing to draw or matplotlib is missing."""
    figure = loss_and_lr_figure() if epochs else None
    if figure is None:
        return None
    fig, loss_ax, lr_ax = figure
    x = [_step(row, batches) for row in epochs]
    for key, label, style in (("loss", "training (epoch mean)", "o-"), ("val_loss", "validation", "s-")):
        points = [(xi, row[key]) for xi, row in zip(x, epochs) if row[key] is not None]
        if points:
            loss_ax.plot(*zip(*points), style, label=label, markersize=4)
    lr_points = [(xi, row["lr"]) for xi, row in zip(x, epochs) if row["lr"] is not None]
    if lr_points:
        lr_ax.plot(*zip(*lr_points), "o-", color="tab:green", markersize=4)
    return finish_png(fig, loss_ax, lr_ax, "step" if batches else "epoch", "learning rate (at epoch end)")


def _step(row: dict, batches: int | None) -> int:
    return (row["epoch"] + 1) * batches if batches else row["epoch"] + 1


def write_report(run_path, latest_epoch: dict | None = None) -> Path:
    """(Re)write RUN/report.html and RUN/loss.png; returns the report's path."""
    run = RunDir(run_path)
    config = run.read_config()  # raises RunDirError for a directory that is not a run
    try:
        info = run.read_run_info()
    except (OSError, ValueError, RunDirError):
        info = {}
    batches = steps_per_epoch(run)
    epochs = read_epochs(run.path, latest_epoch)
    samples = read_samples(run.path)
    png = curves_png(*read_curves(run.path)) or plot_png(epochs, batches)  # step axis when recorded
    if png is not None:
        write_bytes_atomic(run.path / PLOT_FILE, png)
    page = _page(run, config, info, batches, epochs, samples, png)
    write_text_atomic(run.path / REPORT_FILE, page)
    return run.path / REPORT_FILE


def update_report(run_path, latest_epoch: dict | None = None) -> None:
    """write_report for use during training: the report is a convenience, so a failure to write it
    (a full disk, an odd log line) is a warning and never stops a long training run."""
    try:
        write_report(run_path, latest_epoch)
    except Exception as exc:  # noqa: BLE001 - see docstring
        warnings.warn(f"{Path(run_path) / REPORT_FILE} not updated: {exc}", stacklevel=2)


def _fmt(value, spec=".4f") -> str:
    return "\u2013" if value is None else format(value, spec)


def _page(run, config, info, batches, epochs, samples, png) -> str:
    e = html.escape
    m, d, t = config.model, config.data, config.train
    best = min((r for r in epochs if r["val_loss"] is not None), key=lambda r: r["val_loss"], default=None)
    last = epochs[-1] if epochs else None
    facts = [
        ("corpus", (f"{info.get('source', '?')} ({info.get('chars', '?')} characters, "
                   f"{info.get('train_chars', '?')} for training, {info.get('val_chars', '?')} held out)")),
        ("model", (f"{m.layers} x LSTM({m.units}), embedding {m.embedding_dim}, dropout {m.dropout}, "
                  f"vocabulary {m.vocab_size}")),
        ("training", (f"batch {d.batch_size} x {d.seq_len} chars, {t.optimizer} lr {t.learning_rate} "
                     f"({t.lr_schedule}), clipnorm {t.clipnorm}, seed {t.seed}")),
        ("progress", f"{len(epochs)} of {t.epochs} epochs"
                     + (f", step {_step(last, batches)} of {t.epochs * batches}" if last and batches else "")),
        ("latest", "no epoch finished yet" if last is None else
                   f"epoch {last['epoch'] + 1}: train {_fmt(last['loss'])}, val {_fmt(last['val_loss'])} nats/char"),
        ("best validation", "\u2013" if best is None else
                            f"{best['val_loss']:.4f} nats/char = {best['val_loss'] / LN2:.4f} bpc "
                            f"(epoch {best['epoch'] + 1})"),
        ("updated", time.strftime("%Y-%m-%d %H:%M:%S %Z")),
    ]
    fact_rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts)
    epoch_rows = "".join(
        f"<tr><td>{r['epoch'] + 1}</td><td>{_step(r, batches) if batches else _fmt(None)}</td>"
        f"<td>{_fmt(r['loss'])}</td><td>{_fmt(bits(r['loss']))}</td>"
        f"<td>{_fmt(r['val_loss'])}</td><td>{_fmt(bits(r['val_loss']))}</td>"
        f"<td>{_fmt(r['lr'], '.3g')}</td></tr>" for r in epochs)
    plot = (f'<img id="loss-plot" alt="loss and learning rate against steps" '
            f'src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'
            if png else "<p>No plot yet: it appears after the first epoch (and needs matplotlib).</p>")
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
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
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
pre {{ background: #f6f6f6; border: 1px solid #e3e3e3; padding: 6px 8px; margin: 2px 0; white-space: pre-wrap;
       font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }}
</style>
</head>
<body>
<h1>{title}</h1>
<table id="facts">{facts}</table>
<h2>Loss and learning rate</h2>
{plot}
<h2>Epochs</h2>
<table id="epochs"><tr><th>epoch</th><th>step</th><th>train loss</th><th>train bpc</th><th>val loss</th>
<th>val bpc</th><th>lr</th></tr>{epoch_rows}</table>
<h2>Samples during training ({sample_count}, in step order)</h2>
<ol id="samples">{samples}</ol>
</body>
</html>
"""
