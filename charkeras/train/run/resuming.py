"""Opening a run to train in it, and continuing one exactly: what `fit --resume` may change, which
checkpoint it starts from, and the repairs it makes first.

What a resume may change (everything else is the stored config, and a different value is refused):
  --epochs, --max-steps   where the run stops (--epochs alone also replaces a time budget's planned
                          steps). The learning-rate schedule keeps the length it had
                          (config `train.schedule_steps` pins it): steps beyond it run at the
                          schedule's final learning rate, so extending a run never raises the
                          learning rate.
  --lr                    the schedule's peak: from the resumed step on, the learning rate is the
                          new peak times the schedule's factor at that step (a lower --lr lowers it
                          at once; the advice after a divergence). A higher --lr raises it: only
                          when asked.
  --clipnorm, --weight-decay   the optimizer's clipping and decoupled weight decay (adamw).
The changes are written to config.json (so a later resume keeps them) and listed, with the step they
took effect at, under "resumed_with_changes" in run.json.

Where a resume starts: the newest checkpoint that reads back completely. An unreadable newer one
(truncated variables.npz, bad meta.json) is moved aside to `checkpoints/unreadable-ckpt-...` with a
warning. At an epoch boundary the carried LSTM states are reset, exactly as an unbroken run resets
them at every epoch start; mid-epoch they, and the epoch's running loss mean, are restored.
"""

from __future__ import annotations

import json
import math

from charkeras.atomic import recover_directory, remove_stale_temporaries, write_text_atomic
from charkeras.config import RESUMABLE, CharConfig, resumable_text
from charkeras.errors import RunDirError, warn
from charkeras.train import interrupts, kill_points
from charkeras.train.planning import planned_steps
from charkeras.train.run.checkpoints import (
    CheckpointMeta,
    load_checkpoint,
    read_meta,
    read_metric_state,
)
from charkeras.train.run.directory import RunDir
from charkeras.train.run.lock import RunLock
from charkeras.train.run.logs import rewind_logs
from charkeras.train.run.names import (
    BEST,
    CONFIG_FILE,
    RUN_FILE,
    TENSORBOARD_DIR,
    UNREADABLE_PREFIX,
)
from charkeras.train.run.tensorboard import rewind_tensorboard


def lock_run(run: RunDir) -> None:
    """Create the run directory if need be and hold its lock for the rest of this `fit` (its
    session)."""
    run.path.mkdir(parents=True, exist_ok=True)
    lock = RunLock(run.path).acquire()
    session = interrupts.current_session()
    if session is not None:
        session.hold(lock)


def open_for_resume(run: RunDir) -> None:
    """Check that `run` can be continued, lock it, and repair what a killed process left behind."""
    if not run.path.is_dir():
        raise RunDirError(f"{run.path} is not a charkeras run (no such directory)")
    run.check_resumable()
    lock_run(run)
    repair(run)


def repair(run: RunDir) -> None:
    """Remove temporaries no live process writes and undo a `best` replacement cut between its
    renames. The caller holds the run's lock."""
    remove_stale_temporaries(run.path)
    remove_stale_temporaries(run.checkpoints)
    tensorboard = run.path / TENSORBOARD_DIR
    if tensorboard.is_dir():
        for directory in [tensorboard, *(p for p in tensorboard.rglob("*") if p.is_dir())]:
            remove_stale_temporaries(directory)
    if run.checkpoints.is_dir():
        recover_directory(run.checkpoints / BEST)


def requested_changes(stored: CharConfig, config: CharConfig | None, epochs: int | None,
                      changes: dict | None) -> dict:
    """The train fields a resume changes: `changes`, `epochs`, and what `config` (the API's way)
    sets differently from the stored config; any other difference is refused."""
    wanted = dict(changes or {})
    unknown = sorted(set(wanted) - set(RESUMABLE))
    if unknown:
        raise RunDirError(
            f"a resume cannot change {', '.join(unknown)}; only {resumable_text()} may change")
    if epochs is not None:
        wanted["epochs"] = epochs
    if config is not None:
        given = config.replace(model={"vocab_size": stored.model.vocab_size})
        for field in RESUMABLE:
            if getattr(given.train, field) != getattr(stored.train, field):
                wanted.setdefault(field, getattr(given.train, field))
        if given.replace(train={f: getattr(stored.train, f) for f in RESUMABLE}) != stored:
            raise RunDirError("options differ from the run's stored config; --resume takes its "
                              f"stored config (only {resumable_text()} may change)")
    return {k: v for k, v in wanted.items() if getattr(stored.train, k) != v}


def resumed_config(stored: CharConfig, changes: dict, batches: int) -> CharConfig:
    """The stored config with `changes`; when they change where the run stops, the learning-rate
    schedule keeps its stored length (never a jump up)."""
    if "epochs" in changes and "max_steps" not in changes and stored.train.time_budget:
        # A time budget's plan wrote max_steps: new --epochs replace the plan, not stop at it.
        changes = {**changes, "max_steps": changes["epochs"] * batches}
    config = stored.replace(train=changes).validate() if changes else stored
    if planned_steps(config.train, batches) != planned_steps(stored.train, batches) \
            and not stored.train.schedule_steps:
        config = config.replace(train={"schedule_steps": planned_steps(stored.train, batches)})
    return config


def restore_newest(run: RunDir, model, optimizer):
    """Load the newest checkpoint that reads back; returns (path or None, meta). Unreadable newer
    ones are moved aside with a warning; when none reads back, the newest one's error is raised."""
    failures = []
    for path in reversed(run.list_checkpoints()):
        try:
            meta, states = load_checkpoint(path, model, optimizer)
        except RunDirError as exc:
            failures.append((path, exc))
            continue
        for bad, exc in failures:
            aside = _unused(run.checkpoints / f"{UNREADABLE_PREFIX}{bad.name}")
            bad.rename(aside)
            warn(f"{exc}; resuming from the previous checkpoint {path.name} (the unreadable one is "
                 f"now {aside})")
        return path, meta, states
    if failures:
        raise failures[0][1]
    return None, CheckpointMeta(step=0, val_loss=None, train_seconds=0.0), None


def _unused(path):
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{n}")
    return candidate


def restore_run(run: RunDir, model, optimizer, stored: CharConfig, config: CharConfig, batches: int,
                verbose: int):
    """Continue `run`: restore its newest readable checkpoint, apply and record the resume's
    changes, and cut its logs back to the checkpoint's step. Returns (meta, carried states or None,
    loss-mean state or None): states only mid-epoch, where an unbroken run would still carry
    them."""
    path, start, states = restore_newest(run, model, optimizer)
    if verbose:
        where = (f"step {start.step} ({path.name})" if path is not None
                 else "the start (no checkpoint yet)")
        print(f"resuming {run.path} from {where}")
    if config.train.lr_schedule == "constant":  # a constant learning rate is an optimizer variable
        optimizer.learning_rate = config.train.learning_rate
    if config != stored:
        _record_changes(run, stored, config, start.step)
    rewind_logs(run.path, start.step)
    rewind_tensorboard(run.path, start.step)
    session = interrupts.current_session()
    if session is not None:
        session.run_path = run.path
    kill_points.reached("startup")
    metrics = None
    if start.step % batches == 0:
        # an epoch boundary: the next epoch starts from zero states, as in an unbroken run
        states = None
    elif path is not None:
        metrics = read_metric_state(path, model)
    return start, states, metrics


def _record_changes(run: RunDir, stored: CharConfig, config: CharConfig, step: int) -> None:
    changed = {f: [getattr(stored.train, f), getattr(config.train, f)]
               for f in (*RESUMABLE, "schedule_steps")
               if getattr(stored.train, f) != getattr(config.train, f)}
    write_text_atomic(run.path / CONFIG_FILE, config.to_json())
    info_path = run.path / RUN_FILE
    info = json.loads(info_path.read_text(encoding="utf-8"))
    info.setdefault("resumed_with_changes", []).append({"step": step, **changed})
    write_text_atomic(info_path, json.dumps(info, indent=2))


def best_val_loss(run: RunDir) -> float:
    """The validation loss of checkpoints/best (inf when there is none, or it is unreadable:
    warned)."""
    best = run.best_checkpoint()
    if best is None:
        return math.inf
    try:
        loss = read_meta(best)["val_loss"]
    except RunDirError as exc:
        warn(f"{exc}; the next validation becomes the best")
        return math.inf
    return math.inf if loss is None else float(loss)
