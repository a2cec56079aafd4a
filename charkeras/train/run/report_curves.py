"""The report's plot on a step axis: training loss (raw and smoothed), every validation, the
learning rate.

Reads STEPS_FILE and VALIDATIONS_FILE (written by `callbacks.curve_logs`); a step written twice (a
log appended to after its checkpoint, before a crash) keeps its last row. No TensorFlow.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from charkeras.probability import LN2
from charkeras.train.run.names import STEPS_FILE, VALIDATIONS_FILE

SMOOTHING = 0.9  # exponential moving average weight of the past, per row


def read_rows(path: Path, columns) -> list[dict]:
    """Numeric rows by step (the last row for a step wins), in step order; unreadable lines
    skipped."""
    by_step: dict[int, dict] = {}
    if not path.is_file():
        return []
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            for raw in csv.DictReader(f):
                try:
                    row = {"step": int(float(raw["step"]))}
                    for key in columns:
                        row[key] = float(raw[key])
                except (KeyError, TypeError, ValueError):
                    continue  # a repeated header or a torn last line
                if all(math.isfinite(v) for v in row.values()):
                    by_step[row["step"]] = row
    except (OSError, csv.Error):
        return []
    return [by_step[s] for s in sorted(by_step)]


def read_curves(run_path) -> tuple[list[dict], list[dict]]:
    run_path = Path(run_path)
    return (read_rows(run_path / STEPS_FILE, ("loss", "lr")),
            read_rows(run_path / VALIDATIONS_FILE, ("val_loss",)))


def smooth(values: list[float], weight: float = SMOOTHING) -> list[float]:
    """Exponential moving average with the start-up bias removed (TensorBoard's smoothing)."""
    out, average = [], 0.0
    for i, v in enumerate(values, 1):
        average = weight * average + (1 - weight) * v
        out.append(average / (1 - weight ** i))
    return out


def loss_and_lr_figure():
    """(figure, loss axes, learning-rate axes) of the report's plot; None without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # matplotlib is optional: the report then has no plot
        return None
    fig = Figure(figsize=(11, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return (fig, *fig.subplots(1, 2, width_ratios=[2, 1]))


def finish_png(fig, loss_ax, lr_ax, x_label: str, lr_title: str) -> bytes:
    """Label and style both axes the same way for every plot, and render the figure as PNG bytes."""
    loss_ax.set_xlabel(x_label)
    loss_ax.set_ylabel("loss (nats/char)")
    loss_ax.secondary_yaxis(
        "right", functions=(lambda v: v / LN2, lambda v: v * LN2)).set_ylabel("bits/char")
    loss_ax.grid(alpha=0.3)
    loss_ax.legend()
    loss_ax.set_title("loss")
    lr_ax.set_xlabel(x_label)
    lr_ax.set_title(lr_title)
    lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    lr_ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def curves_png(steps: list[dict], validations: list[dict]) -> bytes | None:
    """The plot, or None when there is nothing to draw or matplotlib is missing."""
    if not steps and not validations:
        return None
    figure = loss_and_lr_figure()
    if figure is None:
        return None
    fig, loss_ax, lr_ax = figure
    if steps:
        x = [r["step"] for r in steps]
        losses = [r["loss"] for r in steps]
        loss_ax.plot(x, losses, "-", color="tab:blue", alpha=0.25, linewidth=1)
        loss_ax.plot(x, smooth(losses), "-", color="tab:blue", label="training (smoothed)")
        lr_ax.plot(x, [r["lr"] for r in steps], "-", color="tab:green")
    if validations:
        loss_ax.plot([r["step"] for r in validations], [r["val_loss"] for r in validations], "s-",
                     color="tab:orange", markersize=3, label=f"validation ({len(validations)})")
    return finish_png(fig, loss_ax, lr_ax, "step", "learning rate")
