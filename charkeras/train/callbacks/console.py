"""What `fit` prints: a header before training, a progress line with chars/s and ETA, a summary with
the next commands at the end. It replaces the Keras progress bar.

Modes: "bar" rewrites one line in place (a terminal); "plain" prints one line per interval, which is
what a `nohup` log or a pipe wants (no carriage returns, no escape codes); "auto" is "bar" when
stdout is a terminal, else "plain".
"""

from __future__ import annotations

import shutil
import sys
import time

import keras
import tensorflow as tf

from charkeras.model.fused_lstm import resolve_lstm_impl
from charkeras.model.networks import count_params
from charkeras.probability import bits
from charkeras.train.callbacks.progress import TrainingProgress, current_step
from charkeras.train.planning import format_duration, planned_steps
from charkeras.train.run.names import REPORT_FILE


def kernel_description(m) -> str:
    """'fused, feature-major', 'fused, row-major' or 'keras': the LSTM kernel a run trains with."""
    impl = resolve_lstm_impl(m.lstm_impl)
    return f"{impl}, {m.lstm_layout}-major" if impl == "fused" and m.lstm_layout != "auto" else impl


LOG_MODES = ("auto", "bar", "plain")
PLAIN_INTERVAL_SECONDS = 30.0
_BAR_REFRESH_SECONDS = 0.25
_RATE_WINDOW_SECONDS = 20.0  # chars/s and ETA from the steps of about the last 20 s
_FIRST_LINE_SECONDS = 10.0
_TRACED_STEPS = 2  # the first steps of a run include tracing its graphs: not in the rate


def resolve_log_mode(mode: str, stream=None) -> str:
    stream = stream or sys.stdout
    if mode != "auto":
        return mode
    try:
        return "bar" if stream.isatty() else "plain"
    except (AttributeError, ValueError):
        return "plain"


def device_description(strategy) -> str:
    gpus = tf.config.list_logical_devices("GPU")
    where = f"{len(gpus)} GPU(s)" if gpus else "CPU"
    return f"{where}, {type(strategy).__name__} with {strategy.num_replicas_in_sync} replica(s)"


class ConsoleProgress(keras.callbacks.Callback):
    def __init__(self, progress: TrainingProgress, *, source, corpus_chars: int, train_chars: int,
                 val_chars: int,
                 val_batches: int, strategy, start_step: int = 0, mode: str = "auto", out=None,
                 plain_interval: float = PLAIN_INTERVAL_SECONDS, time_left=None,
                 val_window: int | None = None):
        super().__init__()
        self.val_window = val_window  # validation's window when shorter than --seq-len
        self.time_left = time_left  # seconds to the --time-budget deadline (a callable), or None
        self.progress, self.source, self.strategy = progress, source, strategy
        self.corpus_chars, self.train_chars, self.val_chars = corpus_chars, train_chars, val_chars
        self.val_batches, self.start_step = val_batches, start_step
        self.out = out or sys.stdout
        self.mode = resolve_log_mode(mode, self.out)
        self.plain_interval = plain_interval
        if self.mode == "plain":  # one line per interval: validations go into it, not a line each
            progress.quiet_validations = True
        self._header_done = False
        self._began = None
        self._last_print = 0.0
        self._marks: list[tuple[float, int]] = []  # (time, step) for the rate window
        self._loss = None
        self._bar_open = False

    # --- header ---------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        if self._began is None:
            self._began = time.monotonic()
            self._marks = [(self._began, self.start_step)]
            # the first plain line after 10 s, then one per interval
            self._last_print = self._began - max(self.plain_interval - _FIRST_LINE_SECONDS, 0.0)
        if not self._header_done:
            self._header_done = True
            self._print(self.header())

    def header(self) -> str:
        cfg, layout = self.progress.config, self.progress.layout
        m, d, t = cfg.model, cfg.data, cfg.train
        total = planned_steps(t, layout.batches)
        ends = (f"ends after {total:,} steps ({total / layout.batches:.1f} epochs)"
                if not t.time_budget or t.max_steps else
                f"ends within the time budget of {format_duration(t.time_budget)} (steps planned "
                "from the measured speed, re-planned as it changes)")
        rows = [
            ("corpus", (f"{self.source}: {self.corpus_chars:,} chars, vocabulary {m.vocab_size}; "
                       f"{self.train_chars:,} for training, {self.val_chars:,} held out")),
            ("model", (f"{m.layers} x LSTM({m.units}) [{kernel_description(m)}], embedding "
                      f"{m.embedding_dim}, dropout {m.dropout}: {count_params(self.model):,} "
                      "parameters")),
            ("layout", (f"{d.batch_size} streams x {d.seq_len} chars = "
                       f"{d.batch_size * d.seq_len:,} chars/step; {layout.batches:,} steps/epoch; "
                       f"validation {self.val_batches:,} batch(es)"
                       + (f" in windows of {self.val_window}"
                          if self.val_window and self.val_window != d.seq_len else ""))),
            ("schedule", f"{t.optimizer} lr {t.learning_rate:g} ({t.lr_schedule}); {ends}"
                         + (f"; patience {t.patience} validations" if t.patience else "")),
            ("device", device_description(self.strategy)),
            ("run", f"{self.progress.run.path}"
                    + (f" (resuming at step {self.start_step:,})" if self.start_step else "")),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:>{width}}  {v}" for k, v in rows)

    # --- progress line --------------------------------------------------------------------------
    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        if logs and "loss" in logs:
            self._loss = float(logs["loss"])
        if len(self._marks) == 1 and self._marks[0][1] < self.start_step + _TRACED_STEPS:
            step = current_step(self.model)
            # the rate counts from here: the first steps trace
            if step >= self.start_step + _TRACED_STEPS:
                self._marks = [(now, step)]
            return
        interval = _BAR_REFRESH_SECONDS if self.mode == "bar" else self.plain_interval
        if now - self._last_print < interval:
            return
        self._last_print = now
        step = current_step(self.model)
        self._marks.append((now, step))
        while len(self._marks) > 2 and now - self._marks[1][0] > _RATE_WINDOW_SECONDS:
            self._marks.pop(0)
        line = self.status_line(step, now)
        if self.mode == "bar":
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.out.write("\r" + line[:width].ljust(width))
            self.out.flush()
            self._bar_open = True
        else:
            self._print(line)

    def status_line(self, step: int, now: float) -> str:
        layout, cfg = self.progress.layout, self.progress.config
        total = planned_steps(cfg.train, layout.batches)
        # the total is not known yet
        planning = bool(cfg.train.time_budget and not cfg.train.max_steps)
        (t0, s0), (t1, s1) = self._marks[0], self._marks[-1]
        steps_per_s = (s1 - s0) / (t1 - t0) if t1 > t0 and s1 > s0 else 0.0
        chars_per_s = steps_per_s * layout.batch_size * layout.seq_len
        eta = "?"
        if steps_per_s and not planning:
            seconds = (total - step) / steps_per_s
            # Slower steps than planned (a busy machine) still end at the budget's deadline.
            if self.time_left is not None and self.time_left() < seconds:
                seconds = max(0.0, self.time_left())
            eta = format_duration(seconds)
        epoch = step // layout.batches + 1
        epochs = -(-total // layout.batches)
        parts = ([f"step {step:,}", f"epoch {epoch:,}"] if planning else
                 [f"step {step:,}/{total:,}", f"epoch {epoch:,}/{epochs:,}"])
        if self._loss is not None:
            parts.append(f"loss {self._loss:.4f}")
        if self.progress.last_val_loss is not None:  # the latest validation, and when it was
            at = getattr(self.progress, "last_val_step", None)
            parts.append(f"val {self.progress.last_val_loss:.4f}"
                         + (f" (step {at:,})" if at is not None and at != step else ""))
        best = self.progress.best_val_loss
        if best is not None and best != float("inf"):
            parts.append(f"best {best:.4f}")
        parts += [f"{chars_per_s:,.0f} chars/s", f"elapsed {format_duration(now - self._began)}",
                  f"ETA {eta}"]
        return " | ".join(parts)

    # --- summary --------------------------------------------------------------------------------
    def summary(self, *, stopped: str | None = None) -> str:
        progress = self.progress
        run = progress.run.path
        step = current_step(self.model)
        took = time.monotonic() - (self._began or time.monotonic())
        steps = step - self.start_step
        chars = steps * progress.layout.batch_size * progress.layout.seq_len
        lines = [f"done: step {step:,} ({step / progress.layout.batches:.1f} epochs) after "
                 f"{format_duration(took)}"
                 + (f", {chars / took:,.0f} chars/s" if took > 0 and steps else "")
                 + (f"; {stopped}" if stopped else "")]
        best = progress.best_val_loss
        if best is not None and best != float("inf"):
            lines.append(f"best val loss {best:.4f} nats/char ({bits(best):.4f} bpc): "
                         f"{run / 'checkpoints' / 'best'}")
        lines += [
            "next:",
            f"  charkeras generate {run} --n 500               # sample from the best checkpoint",
            (f"  charkeras evaluate {run} --text {self.source} --tail "
            f"{progress.config.data.val_frac} --baseline ngram   # loss on the held-out text, "
            "against an n-gram model"),
            f"  charkeras export {run} --out saved_models/NAME   # SavedModel + .tflite",
            f"  report: {run / REPORT_FILE}",
        ]
        return "\n".join(lines)

    def print_summary(self, stopped: str | None = None) -> None:
        self._print(self.summary(stopped=stopped))

    def _print(self, text: str) -> None:
        if self._bar_open:
            self.out.write("\n")
            self._bar_open = False
        self.out.write(text + "\n")
        self.out.flush()
