"""The fit driver: data, model and optimizer in a tf.distribute scope, `model.fit`, exact resume.

The global step is the optimizer's iteration count; with K batches per epoch, epoch = step // K and
the data position is step % K. A checkpoint therefore only needs the variables, the optimizer and
the carried LSTM states to continue exactly where it stopped.
"""

from __future__ import annotations

import time

import keras
import tensorflow as tf

from charkeras import __version__
from charkeras.config import CharConfig
from charkeras.data.pipeline import make_dataset
from charkeras.errors import RunDirError
from charkeras.model.networks import build_training_model, training_layout
from charkeras.text.id_cache import load_corpus
from charkeras.threads import configure_training_threads
from charkeras.train import interrupts, kill_points
from charkeras.train.callbacks.budget import TimeBudget
from charkeras.train.callbacks.checkpointing import Checkpointer
from charkeras.train.callbacks.console import ConsoleProgress
from charkeras.train.callbacks.curve_logs import TrainingCurveLog, ValidationCurveLog, default_every
from charkeras.train.callbacks.divergence import DivergenceGuard
from charkeras.train.callbacks.early_stopping import EarlyStopping
from charkeras.train.callbacks.epoch_log import EpochLog
from charkeras.train.callbacks.progress import TrainingProgress
from charkeras.train.callbacks.report_refresh import ReportRefresher
from charkeras.train.callbacks.safe_point import SafePoint
from charkeras.train.callbacks.samples import SamplePrinter
from charkeras.train.callbacks.stream_states import StreamStates
from charkeras.train.callbacks.tensorboard_log import TensorBoardLog
from charkeras.train.callbacks.validation import Validation
from charkeras.train.checkpoints import CheckpointMeta
from charkeras.train.distributed_loop import DistributedValidation, fit_distributed
from charkeras.train.distribution import (
    choose_strategy,
    is_chief,
    is_distributed,
    prepare_replicas,
    stop_on_lost_workers,
    worker_out,
)
from charkeras.train.hardware import hardware_description
from charkeras.train.memory_check import check_training_memory
from charkeras.train.optimizers import make_optimizer
from charkeras.train.resuming import (
    best_val_loss,
    lock_run,
    open_for_resume,
    repair,
    requested_changes,
    restore_run,
    resumed_config,
)
from charkeras.train.run_dir import RunDir
from charkeras.train.sizing import AUTO_FIELDS, choose_sizes
from charkeras.train.step_plan import fit_segments, planned_steps


def _resolve_resume(run: RunDir, source, config: CharConfig | None, epochs: int | None, changes: dict | None):
    open_for_resume(run)  # locked from here on; a run another process trains in is refused
    stored = run.read_config()
    wanted = requested_changes(stored, config, epochs, changes)
    info = run.read_run_info()
    return stored, wanted, (source or info["source"]), info["sha256"]


@interrupts.training_session  # Ctrl-C and SIGTERM stop cleanly; the run's lock is released on any exit
@stop_on_lost_workers  # multi-worker: another worker's failure is one error line here too
def fit(source=None, out="runs/charkeras", config: CharConfig | None = None, *, resume: bool = False,
        force: bool = False, epochs: int | None = None, verbose: int = 1, cache_dir=None,
        callbacks=(), strategy=None, auto=None, started: float | None = None,
        log: str = "auto", changes: dict | None = None, configure_threads: bool = True, cpu_devices: int = 0):
    """Train a model on `source` (file, directory or `tfds:NAME`); returns (model, history dict).

    With `resume=True`, `out` must hold a run: its stored config and corpus are used, and training
    continues from the newest checkpoint exactly as if it had not stopped. `epochs` may extend it, and
    `changes` may set the optimizer-only fields of charkeras/train/resuming.py (e.g. {"learning_rate": 1e-4}).
    `auto`: the config fields chosen from the corpus (charkeras/train/sizing.py) [default: all of them
    without a `config`, none with one]; the choices are stored in config.json, so resume keeps them.
    `started`: time.monotonic() when the command began, which `train.time_budget` counts from.
    `log`: how progress is printed with `verbose`: auto, bar or plain (charkeras/train/callbacks/console.py).
    `configure_threads`: on a machine without a GPU, set TensorFlow's thread pools for training
    (charkeras/threads.py: one thread per op, one op per core) when TensorFlow has not run an op yet.
    TensorFlow keeps its pools for the rest of the process, so pass False to keep your own settings.
    `strategy`: auto, one, mirrored or multi-worker (charkeras/train/distribution.py), or a tf.distribute
    Strategy; `cpu_devices`: split the CPU into N logical devices first (data-parallel on a CPU).
    """
    started = time.monotonic() if started is None else started
    auto = (AUTO_FIELDS if config is None else ()) if auto is None else auto
    if configure_threads:
        configure_training_threads()  # must precede TensorFlow's first op; a no-op with a GPU or once TF runs
    strategy = choose_strategy(strategy, cpu_devices)  # also before TensorFlow's first op
    out, verbose = worker_out(out, strategy, resume), (verbose if is_chief(strategy) else 0)
    run = RunDir(out)
    if resume:
        config, changes, source, expected_sha = _resolve_resume(run, source, config, epochs, changes)
    else:
        config = (config or CharConfig())
        if epochs is not None:
            config = config.replace(train={"epochs": epochs})
        config.validate()
        expected_sha = None
        if source is None:
            raise RunDirError("give the training text: charkeras fit CORPUS")
        run.check_can_create(force)  # before reading a possibly large corpus

    corpus = load_corpus(source, encoding=config.data.encoding, cache_dir=cache_dir)
    if expected_sha is not None and corpus.sha256 != expected_sha:
        raise RunDirError(f"{source} is not the corpus this run was trained on (sha256 differs); "
                          "resume with the original text or start a new run")
    config = config.replace(model={"vocab_size": len(corpus.vocab)}).validate()
    train_ids, val_ids = corpus.split(config.data.val_frac)
    if not resume:
        config, notes = choose_sizes(config, len(train_ids), len(val_ids), auto)
        for note in notes if verbose else ():
            print(note)
    b, t = config.data.batch_size, config.data.seq_len
    # Both layouts are checked before anything is written, so bad sizes leave no half-made run.
    train_ds, layout = make_dataset(train_ids, b, t, "training text")
    val_ds, val_layout = make_dataset(val_ids, b, t, "validation text")
    check_training_memory(config)  # a model too big for the machine: an error line, not an allocator crash
    if config.data.val_batches:
        val_ds = val_ds.take(config.data.val_batches)
    per_replica = prepare_replicas(strategy, config)  # B/R streams per replica (charkeras/train/distribution.py)
    if not resume:  # timed here, recorded in config.json below: a resumed run keeps the layout
        config = config.replace(model={"lstm_layout": training_layout(config.model, per_replica)})

    stored_config = config
    if resume:
        config = resumed_config(stored_config, changes, layout.batches)
    else:
        lock_run(run)  # a concurrent fit on the same --out is refused here
        run.prepare_new(force)
        repair(run)
        run.write_run_files(config, corpus.vocab, {
            "source": str(source), "sha256": corpus.sha256, "chars": len(corpus),
            "train_chars": len(train_ids), "val_chars": len(val_ids), "charkeras_version": __version__,
            "hardware": hardware_description(),
        })
        interrupts.current_session().run_path = run.path
        kill_points.reached("startup")

    strategy = strategy or tf.distribute.get_strategy()
    total_steps = planned_steps(config.train, layout.batches)
    with strategy.scope():
        model = build_training_model(config.model, per_replica, t, seed=config.train.seed)
        optimizer = make_optimizer(config.train, total_steps)
        model.compile(optimizer=optimizer,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        optimizer.build(model.trainable_variables)

    start = CheckpointMeta(step=0, val_loss=None, train_seconds=0.0)
    resume_states = resume_metrics = None
    if resume:  # the newest readable checkpoint; logs cut back to its step
        start, resume_states, resume_metrics = restore_run(run, model, optimizer, stored_config, config,
                                                           layout.batches, verbose)
    if start.step >= total_steps:
        if verbose:
            print(f"{run.path} already finished its {total_steps} steps (step {start.step}); "
                  "pass --epochs N (or --max-steps N) to train longer")
        return model, {}

    progress = TrainingProgress(run=run, config=config, layout=layout, verbose=verbose,
                                last_val_loss=start.val_loss, best_val_loss=best_val_loss(run))
    checkpointer = Checkpointer(progress, seconds_before=start.train_seconds)
    # The order matters: see charkeras/train/callbacks/__init__.py.
    safe_point = SafePoint(checkpointer, total_steps)
    validation = (DistributedValidation(progress, strategy, val_ids, val_layout, config.data.val_batches)
                  if is_distributed(strategy) else Validation(progress, val_ds))  # each replica its streams
    all_callbacks = [DivergenceGuard(progress), StreamStates(resume_states, resume_metrics),
                     validation, SamplePrinter(progress, corpus.vocab, prime_id=int(train_ids[0])),
                     EpochLog(run), TensorBoardLog(run), ReportRefresher(run), checkpointer, safe_point, *callbacks]
    stopper = budget = console = None
    validation_at = next(i for i, c in enumerate(all_callbacks) if isinstance(c, Validation))
    all_callbacks[validation_at + 1:validation_at + 1] = [  # the step-axis curves of the report
        ValidationCurveLog(progress), TrainingCurveLog(progress, default_every(total_steps))]
    val_batches = min(val_layout.batches, config.data.val_batches or val_layout.batches)
    if config.train.patience:  # after Validation, whose loss it reads
        stopper = EarlyStopping(progress, config.train.patience)
        all_callbacks.insert(3, stopper)
    if config.train.time_budget and not config.train.max_steps:  # not planned yet: plan it now
        budget = TimeBudget(progress, deadline=started + config.train.time_budget, optimizer=optimizer,
                            val_batches=val_batches, start_step=start.step,
                            validation=next(c for c in all_callbacks if isinstance(c, Validation)))
        all_callbacks.insert(0, budget)
    if verbose:  # header, progress line and summary, instead of the Keras progress bar
        console = ConsoleProgress(progress, source=source, corpus_chars=len(corpus), train_chars=len(train_ids),
                                  val_chars=len(val_ids), val_batches=val_batches, strategy=strategy,
                                  start_step=start.step, mode=log,
                                  time_left=budget.remaining if budget is not None else None)
        all_callbacks.append(console)
    history: dict[str, list] = {}
    interrupts.defer(True)  # from here a first Ctrl-C/SIGTERM stops at the end of a step, with a checkpoint
    try:
        for part in fit_segments(start.step, total_steps, layout.batches) if not is_distributed(strategy) else ():
            # One iterator for all the segment's epochs (with steps_per_epoch Keras keeps it): a new
            # tf.data iterator per epoch stalled 2 of ~30 epoch starts for 18 s (2x256, 84-step epochs).
            epochs = part.end_epoch - part.first_epoch
            data = train_ds.skip(part.skip).take(part.take).repeat(epochs)
            _merge(history, model.fit(data, initial_epoch=part.first_epoch, epochs=part.end_epoch,
                                      steps_per_epoch=part.take, callbacks=all_callbacks, verbose=0,
                                      shuffle=False))
            if model.stop_training:  # early stopping or the time budget
                break
        if is_distributed(strategy):  # the same callbacks, in charkeras/train/distributed_loop.py's loop
            history = fit_distributed(model, strategy, train_ids, layout,
                                      fit_segments(start.step, total_steps, layout.batches), all_callbacks)
        if console is not None:
            console.print_summary(stopped=_stop_reason(budget, stopper))
    except KeyboardInterrupt as exc:
        safe_point.interrupted(exc)  # the session prints what was saved and how to continue
        raise
    finally:
        interrupts.defer(False)
    return model, history


def _stop_reason(budget, stopper) -> str | None:
    if stopper is not None and stopper.stopped_at is not None:
        return f"stopped early at step {stopper.stopped_at:,} (--patience {stopper.patience})"
    if budget is not None and budget.stopped_early:
        return "stopped by the time budget before the planned step"
    return None


def _merge(history: dict, keras_history) -> None:
    for key, values in keras_history.history.items():
        history.setdefault(key, []).extend(values)
