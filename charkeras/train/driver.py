"""The fit driver, in four phases: open the run, build the model, assemble the callbacks, train.

The global step is the optimizer's iteration count; with K batches per epoch, epoch = step // K and
the data position is step % K. A checkpoint therefore only needs the variables, the optimizer and
the carried LSTM states to continue exactly where it stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from charkeras import __version__
from charkeras.atomic import write_text_atomic
from charkeras.config import CharConfig
from charkeras.data.pipeline import make_dataset
from charkeras.data.streams import StreamLayout, validation_seq_len
from charkeras.errors import ConfigError, RunDirError
from charkeras.model.networks import build_training_model, training_layout
from charkeras.model.vocab_transfer import BaseModel, MergedVocabulary
from charkeras.model.weights import set_layer_weights
from charkeras.text.id_cache import Corpus, load_corpus
from charkeras.threads import configure_training_threads
from charkeras.train import interrupts, kill_points
from charkeras.train.callbacks.budget import TimeBudget
from charkeras.train.callbacks.cadence import Cadence
from charkeras.train.callbacks.checkpointing import Checkpointer
from charkeras.train.callbacks.console import ConsoleProgress
from charkeras.train.callbacks.curve_logs import TrainingCurveLog, ValidationCurveLog
from charkeras.train.callbacks.divergence import DivergenceGuard
from charkeras.train.callbacks.early_stopping import EarlyStopping
from charkeras.train.callbacks.epoch_log import EpochLog
from charkeras.train.callbacks.progress import StepCounter, TrainingProgress
from charkeras.train.callbacks.report_refresh import ReportRefresher
from charkeras.train.callbacks.safe_point import SafePoint
from charkeras.train.callbacks.samples import SamplePrinter
from charkeras.train.callbacks.stream_states import StreamStates
from charkeras.train.callbacks.tensorboard_log import TensorBoardLog
from charkeras.train.callbacks.validation import Validation
from charkeras.train.distributed.loop import DistributedValidation, fit_distributed
from charkeras.train.distributed.strategy import Job, start_job
from charkeras.train.fine_tuning import (
    fine_tune_config,
    first_weights,
    lineage,
    merged_corpus,
    resumed_corpus,
)
from charkeras.train.memory_check import check_training_memory
from charkeras.train.optimizers import make_optimizer, schedule_total
from charkeras.train.planning import (
    check_planned_steps,
    fit_segments,
    planned_epochs,
    planned_steps,
)
from charkeras.train.run.checkpoints import CheckpointMeta
from charkeras.train.run.directory import RunDir
from charkeras.train.run.names import CONFIG_FILE
from charkeras.train.run.report import update_report
from charkeras.train.run.resuming import (
    best_val_loss,
    lock_run,
    open_for_resume,
    repair,
    requested_changes,
    restore_run,
    resumed_config,
)
from charkeras.train.sizing import AUTO_FIELDS, choose_sizes
from charkeras.train.summary import hardware_description
from charkeras.train.throughput import MeasuredThroughput


@interrupts.training_session  # Ctrl-C and SIGTERM stop cleanly; the run's lock is released on exit
def fit(source=None, out="runs/charkeras", config: CharConfig | None = None, *,
        resume: bool = False, force: bool = False, epochs: int | None = None, verbose: int = 1,
        cache_dir=None, callbacks=(), strategy=None, auto=None, started: float | None = None,
        log: str = "auto", changes: dict | None = None, configure_threads: bool = True,
        cpu_devices: int = 0, base: BaseModel | None = None):
    """Train a model on `source` (file, directory or `tfds:NAME`); returns (model, history dict).

    With `resume=True`, `out` must hold a run: its stored config and corpus are used, and training
    continues from the newest checkpoint exactly as if it had not stopped. `epochs` may extend it,
    and `changes` may set the fields of `config.RESUMABLE` (e.g. {"learning_rate": 1e-4}).
    `auto`: the config fields chosen from the corpus (`sizing.AUTO_FIELDS`) [default: all of them
    without a `config`, none with one]; the choices are stored in config.json, so resume keeps them.
    `started`: time.monotonic() when the command began, which a time budget counts from.
    `log`: how progress is printed with `verbose`: auto, bar or plain (`callbacks.console`).
    `configure_threads`: on a machine without a GPU, set TensorFlow's thread pools for training
    (`threads.configure_training_threads`: one thread per op, one op per core) when TensorFlow has
    not run an op yet. TensorFlow keeps its pools for the rest of the process: pass False to keep
    yours.
    `strategy`: auto, one, mirrored or multi-worker (`distributed.strategy`), or a tf.distribute
    Strategy; `cpu_devices`: split the CPU into N logical devices first (data-parallel on a CPU).
    `base`: the loaded base of a run started from one (`config.train.init_from`; `fine_tuning`),
    which `charkeras.fit` loads; on a resume only while the run has no checkpoint yet.
    """
    started = time.monotonic() if started is None else started
    auto = (AUTO_FIELDS if config is None else ()) if auto is None else auto
    if configure_threads:
        configure_training_threads()  # before TensorFlow's first op (no-op with a GPU or later)
    # Also before TensorFlow's first op; multi-worker: waits (bounded) for the other workers.
    job = start_job(strategy, cpu_devices, out, _cluster_timeout(config, changes))
    verbose = verbose if job.chief else 0
    with job.lost_workers_as_errors(), job.leaving_together():
        opened = open_run(job, source, config, resume=resume, force=force, epochs=epochs,
                          changes=changes, cache_dir=cache_dir, auto=auto, verbose=verbose,
                          base=base)
        model, optimizer = build(opened, job.strategy)
        if opened.first_weights is not None:  # the base's; a resume's checkpoint replaces them
            set_layer_weights(model, opened.first_weights, opened.config.model)
        start = CheckpointMeta(step=0, val_loss=None, train_seconds=0.0)
        states = metrics = None
        if resume:  # the newest readable checkpoint; logs cut back to its step
            start, states, metrics = restore_run(opened.run, model, optimizer, opened.stored_config,
                                                 opened.config, opened.layout.batches, verbose)
            follow_checkpoint_plan(opened, optimizer, start.step)
        if start.step >= opened.total_steps:
            if verbose:
                print(f"{opened.run.path} already finished its {opened.total_steps} steps (step "
                      f"{start.step}); pass --epochs N (or --max-steps N) to train longer")
            return model, {}
        trainer = Trainer(opened, job, start, verbose)
        trainer.assemble(model, optimizer, callbacks, started, log, states, metrics)
        return model, trainer.train(model)


def _cluster_timeout(config: CharConfig | None, changes: dict | None) -> float:
    """Needed before the run is read (a non-chief worker cannot read it yet): a resume's change, the
    given config's, or the default."""
    default = (config or CharConfig()).train.cluster_timeout
    return (changes or {}).get("cluster_timeout", default)


# --- open the run: config, corpus, sizes, run directory -------------------------------------------

@dataclass
class OpenedRun:
    """What opening a run settles, before anything is built: the phases after it read only this."""

    run: RunDir
    source: object  # as given (a path or `tfds:NAME`), or the run's on resume
    corpus: Corpus
    stored_config: CharConfig  # as config.json records it
    config: CharConfig  # what trains now: a resume's changes applied
    train_ids: np.ndarray
    val_ids: np.ndarray
    layout: StreamLayout
    val_layout: StreamLayout
    train_ds: tf.data.Dataset
    val_ds: tf.data.Dataset
    per_replica: int  # b = B/R streams per replica
    total_steps: int
    first_weights: dict | None = None  # a run started from a base: the weights it starts with


def open_run(job: Job, source, config: CharConfig | None, *, resume: bool, force: bool,
             epochs: int | None, changes: dict | None, cache_dir, auto, verbose: int,
             base: BaseModel | None = None) -> OpenedRun:
    """Read or check the config, read the corpus, choose the sizes and create (or reopen) the run.

    Every check comes before the first file is written, so bad input leaves no half-made run."""
    run = RunDir(job.worker_out(resume))
    if resume:
        config, changes, source, expected_sha = _resume_config(run, source, config, epochs, changes)
    else:
        config, expected_sha = _new_config(run, source, config, epochs, force), None
    start = _check_base(run, config, base, resume)
    corpus = load_corpus(source, encoding=config.data.encoding, cache_dir=cache_dir)
    if expected_sha is not None and corpus.sha256 != expected_sha:
        raise RunDirError(f"{source} is not the corpus this run was trained on (sha256 differs); "
                          "resume with the original text or start a new run")
    merged = None
    if resume and config.train.init_from:  # in the run's vocabulary, which grew from its base's
        corpus, merged = resumed_corpus(corpus, run.read_vocab(), start)
    elif start is not None:
        corpus, merged = merged_corpus(corpus, start)
    config = config.replace(model={"vocab_size": len(corpus.vocab)}).validate()
    train_ids, val_ids = corpus.split(config.data.val_frac)
    if not resume:
        # Every worker of a multi-worker job must choose the same shape: no timing there.
        speed = None if job.multi_worker else MeasuredThroughput()
        config = _choose_sizes(config, start, auto, len(train_ids), len(val_ids), verbose, speed)
    b, t = config.data.batch_size, config.data.seq_len
    train_ds, layout = make_dataset(train_ids, b, t, "training text")
    val_ds, val_layout = make_dataset(val_ids, b, validation_seq_len(len(val_ids), b, t),
                                      "validation text")
    check_training_memory(config)  # a model too big for the machine: an error line, not a crash
    if config.data.val_batches:
        val_ds = val_ds.take(config.data.val_batches)
    per_replica = job.prepare_replicas(config)
    if resume:  # a resumed run keeps its recorded layout
        stored, config = config, resumed_config(config, changes, layout.batches)
        check_planned_steps(config.train, layout.batches)
    else:  # timed here, recorded in config.json
        check_planned_steps(config.train, layout.batches)  # before the run's first file
        config = config.replace(model={"lstm_layout": training_layout(config.model, per_replica)})
        stored = config
        _create_run(run, config, corpus, source, len(train_ids), len(val_ids), force, start, merged)
    first = None if start is None else first_weights(start, merged, train_ids, config.train.seed)
    return OpenedRun(run, source, corpus, stored, config, train_ids, val_ids, layout, val_layout,
                     train_ds, val_ds, per_replica, planned_steps(config.train, layout.batches),
                     first)


def _check_base(run: RunDir, config: CharConfig, base: BaseModel | None,
                resume: bool) -> BaseModel | None:
    """The base the run starts from, or None (a resume from a checkpoint needs none)."""
    if not config.train.init_from:
        if base is not None:
            raise ConfigError("a base was given but the config has no init_from")
        return None
    if not resume:
        if base is None:
            raise ConfigError(f"init_from {config.train.init_from}: load it with "
                              "charkeras.runtime.base_loading.load_base and pass it as base=")
        return base
    if run.list_checkpoints():
        return None
    if base is None:
        raise RunDirError(f"{run.path} stopped before its first checkpoint and starts from its "
                          "base: resume it with charkeras fit --resume (which reloads the base)")
    recorded = (run.read_run_info().get("base") or {}).get("weights_sha256")
    if recorded != base.lineage.get("weights_sha256"):
        raise RunDirError(f"the base {config.train.init_from} has changed since {run.path} started "
                          "from it: start the run again with --force")
    return base


def _choose_sizes(config: CharConfig, base: BaseModel | None, auto, n_train: int, n_val: int,
                  verbose: int, speed: MeasuredThroughput | None = None) -> CharConfig:
    """The sizes left out, chosen from the corpus, or from the base and the fine-tuning defaults
    (`fine_tuning`: the shape is the base's, never the corpus size's); the choices are printed.
    `speed`: this machine's training speed, which sizes a shape left out to a time budget."""
    notes = []
    if base is not None:
        choice = fine_tune_config(config, base, auto, n_train, n_val)
        config, auto, notes = choice.config, choice.auto, choice.notes
    else:  # the fine-tuning defaults stay the config's own
        auto = [name for name in auto if name in AUTO_FIELDS]
    config, more = choose_sizes(config, n_train, n_val, auto, speed)
    if notes:  # config.json records the fine-tuning choices with the sizing ones
        recorded = [*notes, config.train.sizing] if config.train.sizing else notes
        config = config.replace(train={"sizing": " | ".join(recorded)})
    for note in [*notes, *more] if verbose else ():
        print(note)
    return config


def _resume_config(run: RunDir, source, config: CharConfig | None, epochs: int | None,
                   changes: dict | None):
    open_for_resume(run)  # locked from here on; a run another process trains in is refused
    stored = run.read_config()
    wanted = requested_changes(stored, config, epochs, changes)
    info = run.read_run_info()
    return stored, wanted, run.corpus_source(source), info["sha256"]


def _new_config(run: RunDir, source, config: CharConfig | None, epochs: int | None,
                force: bool) -> CharConfig:
    config = config or CharConfig()
    if epochs is not None:
        config = config.replace(train={"epochs": epochs})
    config.validate()
    if source is None:
        raise RunDirError("give the training text: charkeras fit CORPUS")
    run.check_can_create(force)  # before reading a possibly large corpus
    return config


def _create_run(run: RunDir, config: CharConfig, corpus: Corpus, source, train_chars: int,
                val_chars: int, force: bool, base: BaseModel | None = None,
                merged: MergedVocabulary | None = None) -> None:
    lock_run(run)  # a concurrent fit on the same --out is refused here
    run.prepare_new(force)
    repair(run)
    info = {"source": str(source), "sha256": corpus.sha256, "chars": len(corpus),
            "train_chars": train_chars, "val_chars": val_chars, "charkeras_version": __version__,
            "hardware": hardware_description()}
    if base is not None:
        info["base"] = lineage(base, merged)
    run.write_run_files(config, corpus.vocab, info, None if merged is None else merged.origins())
    interrupts.current_session().run_path = run.path
    kill_points.reached("startup")


def follow_checkpoint_plan(opened: OpenedRun, optimizer, step: int) -> None:
    """A planned time-budget run resumed without new limits ends where the plan in force at its
    checkpoint ended (the schedule the checkpoint restored), not where a later plan that
    config.json records would have: config.json is set back to it. A checkpoint at the end that
    config.json records is a finished run (the budget stopped it a few steps short of its plan)."""
    train, stored = opened.config.train, opened.stored_config.train
    if not (train.time_budget and train.max_steps) or train.lr_schedule == "constant":
        return
    if step >= train.max_steps:
        return
    if (train.max_steps, train.epochs) != (stored.max_steps, stored.epochs):
        return  # --epochs/--max-steps given: they set the end, the schedule holds after its own
    total = schedule_total(optimizer)
    if total == train.max_steps:
        return
    opened.config = opened.config.replace(
        train={"max_steps": total, "epochs": planned_epochs(total, opened.layout.batches)})
    opened.stored_config, opened.total_steps = opened.config, total
    write_text_atomic(opened.run.path / CONFIG_FILE, opened.config.to_json())


# --- build: the model and its optimizer in the strategy's scope -----------------------------------

def build(opened: OpenedRun, strategy):
    """The training model (b streams per replica) and its built optimizer: (model, optimizer)."""
    config = opened.config
    with strategy.scope():
        # No fixed window: validation may read shorter ones (`validation_seq_len`).
        model = build_training_model(config.model, opened.per_replica, seed=config.train.seed)
        optimizer = make_optimizer(config.train, opened.total_steps)
        model.compile(optimizer=optimizer,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        optimizer.build(model.trainable_variables)
    return model, optimizer


# --- assemble the callbacks, and train ------------------------------------------------------------

class Trainer:
    """The callbacks of one fit and the training loop that drives them."""

    def __init__(self, opened: OpenedRun, job: Job, start: CheckpointMeta, verbose: int):
        self.opened, self.job, self.start, self.verbose = opened, job, start, verbose
        self.callbacks: list[keras.callbacks.Callback] = []
        self.safe_point = self.budget = self.stopper = self.console = None

    def assemble(self, model, optimizer, user_callbacks, started: float, log: str, states,
                 metrics) -> None:
        """The callbacks, in the one order they must run in (Keras calls them in list order):

            StepCounter        reads the global step once per batch for the callbacks after it (the
                               only reader on the per-step path)
            TimeBudget         plans the run's steps from the timed ones and re-plans as the speed
                               changes; early, so it times the work of the callbacks after it and a
                               step's other callbacks already see the plan (time budget only)
            DivergenceGuard    stops with a clear message when the loss turns NaN or explodes
            StreamStates       resets the carried states at every epoch start (restores them, and
                               the epoch's running loss mean, once on a resume mid-epoch)
            Validation         validates at epoch ends and on its cadence (`val_every` steps, else
                               by the clock: `callbacks.cadence`), training states
                               set aside; adds val_loss, val_bpc, bpc and lr to the epoch logs
            EarlyStopping      after Validation, whose loss it reads (`patience` only)
            ValidationCurveLog, TrainingCurveLog   the report's step-axis curves, after Validation
            SamplePrinter      a generated sample on its cadence (`sample_every` steps, else by the
                               clock) and at epoch ends
            EpochLog           log.csv, one row per epoch (after Validation: it records its logs)
            TensorBoardLog     TensorBoard scalars per epoch, flushed at once
            ReportRefresher    rebuilds report.html and loss.png at every epoch end
            Checkpointer       checkpoints every `checkpoint_every` steps and at epoch ends; after
                               every logger, so a checkpoint covers all logged up to its step
            SafePoint          the step's work is done: a Ctrl-C or SIGTERM stops here, with a
                               checkpoint
            the user's callbacks
            ConsoleProgress    prints what happened, so last (`verbose` only)
        """
        opened, start, config = self.opened, self.start, self.opened.config
        progress = TrainingProgress(run=opened.run, config=config, layout=opened.layout,
                                    verbose=self.verbose, last_val_loss=start.val_loss,
                                    best_val_loss=best_val_loss(opened.run))
        checkpointer = Checkpointer(progress, seconds_before=start.train_seconds)
        self.safe_point = SafePoint(checkpointer, opened.total_steps)
        validation = self._validation(progress)
        if config.train.patience:
            self.stopper = EarlyStopping(progress, config.train.patience)
        if self._plans_a_budget():
            self.budget = TimeBudget(progress, deadline=started + config.train.time_budget,
                                     budget=config.train.time_budget, optimizer=optimizer,
                                     val_batches=self._val_batches(), start_step=start.step,
                                     report=lambda: update_report(opened.run.path))
        if self.verbose:  # header, progress line and summary, instead of the Keras progress bar
            self.console = self._console(progress, log)
        ordered = [
            StepCounter(progress), self.budget, DivergenceGuard(progress),
            StreamStates(states, metrics), validation, self.stopper, ValidationCurveLog(progress),
            TrainingCurveLog(progress),
            SamplePrinter(progress, opened.corpus.vocab, prime_id=int(opened.train_ids[0])),
            EpochLog(opened.run), TensorBoardLog(opened.run), ReportRefresher(opened.run),
            checkpointer, self.safe_point, *user_callbacks, self.console,
        ]
        self.callbacks = [c for c in ordered if c is not None]

    def _plans_a_budget(self) -> bool:
        """A time budget is planned by a new run, and by a resumed one that stopped before its first
        plan; a planned run resumes with the plan its checkpoint recorded. Each worker of a
        multi-worker job would time itself: there a budget only comes with --max-steps, which ends
        it."""
        train = self.opened.config.train
        if not train.time_budget or self.job.multi_worker:
            return False
        return self.start.step == 0 or not train.max_steps

    def _validation(self, progress) -> Validation:
        opened = self.opened
        if self.job.distributed:  # each replica validates its own streams
            if self.job.multi_worker:  # every worker validates at the same steps, not by the clock
                progress.validations = Cadence(opened.config.train.val_every, 0.0)
            return DistributedValidation(progress, self.job.strategy, opened.val_ids,
                                         opened.val_layout, opened.config.data.val_batches)
        return Validation(progress, opened.val_ds)

    def _val_batches(self) -> int:
        layout = self.opened.val_layout
        return min(layout.batches, self.opened.config.data.val_batches or layout.batches)

    def _console(self, progress, log: str) -> ConsoleProgress:
        opened = self.opened
        return ConsoleProgress(
            progress, source=opened.source, corpus_chars=len(opened.corpus),
            train_chars=len(opened.train_ids), val_chars=len(opened.val_ids),
            val_batches=self._val_batches(), strategy=self.job.strategy, start_step=self.start.step,
            mode=log, time_left=self.budget.remaining if self.budget is not None else None,
            val_window=opened.val_layout.seq_len)

    def train(self, model) -> dict[str, list]:
        """Run the planned steps with `model.fit` (one device) or the data-parallel loop (mirrored,
        multi-worker), with the same callbacks; returns the history."""
        opened = self.opened
        segments = fit_segments(self.start.step, opened.total_steps, opened.layout.batches)
        interrupts.defer(True)  # now a first Ctrl-C/SIGTERM stops after a step, with a checkpoint
        try:
            if self.job.distributed:
                history = fit_distributed(model, self.job, opened.train_ids, opened.layout,
                                          segments, self.callbacks)
            else:
                history = self._fit_segments(model, segments)
            if self.console is not None:
                self.console.print_summary(stopped=self._stop_reason())
        except KeyboardInterrupt as exc:
            self.safe_point.interrupted(exc)  # the session prints what was saved, how to continue
            raise
        finally:
            interrupts.defer(False)
        return history

    def _fit_segments(self, model, segments) -> dict[str, list]:
        history: dict[str, list] = {}
        for part in segments:
            # One iterator for all the segment's epochs (with steps_per_epoch Keras keeps it): a
            # new tf.data iterator per epoch stalled 2 of ~30 epoch starts for 18 s (2x256, 84
            # steps).
            data = self.opened.train_ds.skip(part.skip).take(part.take)
            result = model.fit(data.repeat(part.end_epoch - part.first_epoch),
                               initial_epoch=part.first_epoch, epochs=part.end_epoch,
                               steps_per_epoch=part.take, callbacks=self.callbacks, verbose=0,
                               shuffle=False)
            for key, values in result.history.items():
                history.setdefault(key, []).extend(values)
            if model.stop_training:  # early stopping or the time budget
                break
        return history

    def _stop_reason(self) -> str | None:
        stopper, budget = self.stopper, self.budget
        if stopper is not None and stopper.stopped_at is not None:
            return f"stopped early at step {stopper.stopped_at:,} (--patience {stopper.patience})"
        if budget is not None and budget.stopped_early:
            return "stopped by the time budget before the planned step"
        return None
