"""`charkeras fit`: train a model, or resume one exactly."""

from __future__ import annotations

import time

import click

from charkeras.config import (
    LR_SCHEDULES,
    LSTM_IMPLS,
    LSTM_LAYOUTS,
    OPTIMIZERS,
    STRATEGIES,
    CharConfig,
    DataConfig,
    ModelConfig,
    TrainConfig,
)
from charkeras.errors import RunDirError
from charkeras.train.time_budget import UNLIMITED_EPOCHS, parse_duration

LOG_MODES = ("auto", "bar", "plain")  # charkeras/train/callbacks/console.py (TensorFlow: not imported here)

M, D, T = ModelConfig(), DataConfig(), TrainConfig()
_AUTO = "by corpus size"  # README, "Defaults that fit the corpus"
# options a resume may change (charkeras/train/resuming.py); --epochs is handled on its own
_RESUME_OPTIONS = ("max_steps", "lr", "clipnorm", "weight_decay")

# option name -> (config section, field); every one of these is stored in the run's config.json
_CONFIG_OPTIONS = {
    "layers": ("model", "layers"), "units": ("model", "units"), "embedding_dim": ("model", "embedding_dim"),
    "dropout": ("model", "dropout"), "lstm_impl": ("model", "lstm_impl"),
    "lstm_layout": ("model", "lstm_layout"),
    "batch_size": ("data", "batch_size"), "seq_len": ("data", "seq_len"), "val_frac": ("data", "val_frac"),
    "encoding": ("data", "encoding"), "val_batches": ("data", "val_batches"),
    "optimizer": ("train", "optimizer"), "lr": ("train", "learning_rate"),
    "lr_schedule": ("train", "lr_schedule"), "warmup_steps": ("train", "warmup_steps"),
    "weight_decay": ("train", "weight_decay"), "clipnorm": ("train", "clipnorm"), "seed": ("train", "seed"),
    "max_steps": ("train", "max_steps"),
    "time_budget": ("train", "time_budget"), "patience": ("train", "patience"),
    "checkpoint_every": ("train", "checkpoint_every"), "keep_checkpoints": ("train", "keep_checkpoints"),
    "val_every": ("train", "val_every"), "sample_every": ("train", "sample_every"),
    "sample_len": ("train", "sample_len"), "sample_temperature": ("train", "sample_temperature"),
}


@click.command()
@click.argument("corpus", required=False)
@click.option("--out", default="runs/charkeras", help="Run directory for checkpoints, logs and samples.")
@click.option("--resume", "resume_dir", metavar="RUN", default=None,
              help="Continue the run in RUN exactly where it stopped, from any stop (its stored config and "
                   "corpus; only --epochs, --max-steps, --lr, --clipnorm and --weight-decay may be given). "
                   "Refused while another process trains in RUN.")
@click.option("--force", is_flag=True,
              help="Replace the charkeras run in --out (only its own files are removed; never a directory "
                   "charkeras did not write, nor a run another process trains in).")
@click.option("--layers", type=int, default=None, show_default=_AUTO,
              help="Stacked LSTM layers. Left out, these four follow the README's table of corpus sizes.")
@click.option("--units", type=int, default=None, show_default=_AUTO, help="LSTM units per layer.")
@click.option("--embedding-dim", type=int, default=None, show_default=_AUTO, help="Character embedding size.")
@click.option("--dropout", type=float, default=None, show_default=_AUTO,
              help="Dropout after each LSTM layer, in [0, 1).")
@click.option("--lstm-impl", type=click.Choice(LSTM_IMPLS), default=M.lstm_impl,
              help="LSTM kernel, same mathematics and weights: fused (fast on CPU), keras (keras.layers.LSTM, "
                   "cuDNN on a GPU), auto (keras with a GPU, fused without).")
@click.option("--lstm-layout", type=click.Choice(LSTM_LAYOUTS), default=M.lstm_layout,
              help="How the fused LSTM's recurrence holds its states (same numbers up to rounding): auto times "
                   "both on this CPU when the run starts and records the faster in config.json.")
@click.option("--batch-size", type=int, default=None, show_default=f"{D.batch_size}, less for small corpora",
              help="Parallel streams (B).")
@click.option("--seq-len", type=int, default=None, show_default=f"{D.seq_len}, less for tiny corpora",
              help="Truncated BPTT length in characters (T).")
@click.option("--val-frac", type=float, default=D.val_frac, help="Fraction of the text, from its end, held out.")
@click.option("--encoding", default=D.encoding, help="Text encoding of the corpus files.")
@click.option("--val-batches", type=int, default=D.val_batches,
              help="Validate on at most N batches from the start of the held-out text (0 = all of it).")
@click.option("--epochs", type=int, default=T.epochs,
              help="Passes over the training text. With --resume: where the run now stops; the LR schedule "
                   "keeps its length and holds its final LR beyond it (no jump up).")
@click.option("--max-steps", type=int, default=T.max_steps,
              help="Stop after N optimizer steps, mid-epoch if need be (0: after --epochs); the learning-rate "
                   "schedule spans the steps that will run. For corpora whose epoch takes hours.")
@click.option("--time-budget", metavar="DURATION", default=None,
              help="Train for this long, start-up included (90s, 15m, 2h, 1h30m): fit times the first steps, "
                   "sets the steps and the LR schedule to end in time and prints the plan. --epochs and "
                   "--max-steps, when given, still end it sooner.")
@click.option("--patience", type=int, default=T.patience,
              help="Stop after N validations in a row without a new best val loss (0: never); the best "
                   "checkpoint is kept.")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=T.optimizer, help="Optimizer.")
@click.option("--lr", type=float, default=T.learning_rate,
              help="Peak learning rate. With --resume: the new peak, scaling the schedule from the resumed step on.")
@click.option("--lr-schedule", type=click.Choice(LR_SCHEDULES), default=T.lr_schedule,
              help="Learning-rate schedule over the whole run.")
@click.option("--warmup-steps", type=int, default=T.warmup_steps, help="Linear warm-up steps (cosine only).")
@click.option("--weight-decay", type=float, default=T.weight_decay, help="Decoupled weight decay (adamw).")
@click.option("--clipnorm", type=float, default=T.clipnorm, help="Gradient norm clipping.")
@click.option("--seed", type=int, default=T.seed, help="Seed for weights, dropout and samples.")
@click.option("--checkpoint-every", type=int, default=T.checkpoint_every,
              help="Checkpoint every N steps (and at each epoch end); 0 = epoch ends only.")
@click.option("--keep-checkpoints", type=int, default=T.keep_checkpoints, help="Newest checkpoints kept (plus the best).")
@click.option("--val-every", type=int, default=T.val_every, help="Also validate every N steps; 0 = epoch ends only.")
@click.option("--sample-every", type=int, default=T.sample_every,
              help="Print a generated sample every N steps (and at each epoch end); 0 = epoch ends only.")
@click.option("--sample-len", type=int, default=T.sample_len, help="Characters per training sample.")
@click.option("--sample-temperature", type=float, default=T.sample_temperature, help="Temperature of samples.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Where encoded corpora are cached [default: $CHARKERAS_CACHE or ~/.cache/charkeras].")
@click.option("--quiet", is_flag=True, help="No progress bar or samples.")
@click.option("--thread-settings/--no-thread-settings", "thread_settings", default=True,
              help="Without a GPU, set TensorFlow's thread pools for training (one thread per op, one op per "
                   "core; charkeras/threads.py). --no-thread-settings keeps TensorFlow's defaults or your "
                   "TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS.")
@click.option("--log", "log_mode", type=click.Choice(LOG_MODES), default="auto",
              help="Progress display: bar (one line redrawn in place), plain (a line every 30 s, for logs "
                   "and pipes), auto (bar on a terminal, else plain).")
@click.option("--strategy", type=click.Choice(STRATEGIES), default="auto",
              help="Data-parallel training (README, \"Scaling out\"): one device; mirrored over this machine's "
                   "GPUs or --cpu-devices; multi-worker over the machines TF_CONFIG names; auto picks "
                   "multi-worker with TF_CONFIG, mirrored with several GPUs (or --cpu-devices > 1), else one. "
                   "--batch-size stays the global number of streams, split evenly over the replicas.")
@click.option("--cpu-devices", type=click.IntRange(min=0), default=0,
              help="Split the CPU into N logical devices, so --strategy mirrored runs data-parallel on a CPU "
                   "(0: leave the CPU whole).")
@click.pass_context
def fit(ctx, corpus, out, resume_dir, force, epochs, cache_dir, quiet, log_mode, thread_settings, strategy,
        cpu_devices, **options):
    """Train a stateful stacked-LSTM character model on CORPUS.

    CORPUS is a UTF-8 text file, a directory of text files, or tfds:NAME[:SPLIT].
    """
    started = time.monotonic()  # --time-budget counts from here (TensorFlow's import comes later)
    if resume_dir is not None:
        given = [name for name in options
                 if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT]
        refused = [n for n in given if n not in _RESUME_OPTIONS] + (["force"] if force else [])
        if refused:
            flags = ", ".join("--" + n.replace("_", "-") for n in refused)
            raise RunDirError("--resume uses the run's stored config; only --epochs, --max-steps, --lr, --clipnorm "
                              f"and --weight-decay may change (got {flags})")
        changes = {_CONFIG_OPTIONS[name][1]: options[name] for name in given}  # charkeras/train/resuming.py
        epochs_given = ctx.get_parameter_source("epochs") != click.core.ParameterSource.DEFAULT
        _train(corpus, resume_dir, None, resume=True, epochs=epochs if epochs_given else None,
               cache_dir=cache_dir, quiet=quiet, changes=changes, log=log_mode, thread_settings=thread_settings,
               strategy=strategy, cpu_devices=cpu_devices)
        return
    if corpus is None:
        raise click.UsageError("give the training text: charkeras fit CORPUS (or --resume RUN)")
    sections = {"model": {}, "data": {}, "train": {"epochs": epochs}}
    if options["time_budget"] is not None:
        options["time_budget"] = parse_duration(options["time_budget"])
        if ctx.get_parameter_source("epochs") == click.core.ParameterSource.DEFAULT:
            sections["train"]["epochs"] = UNLIMITED_EPOCHS  # the budget ends it; the plan sets the real count
    auto = []  # options left out that fit chooses from the corpus (charkeras/train/sizing.py)
    for name, value in options.items():
        section, field = _CONFIG_OPTIONS[name]
        if value is None and name != "time_budget":
            auto.append(field)
        elif value is None:
            continue
        else:
            sections[section][field] = value
    config = CharConfig().replace(**sections).validate()
    _train(corpus, out, config, force=force, cache_dir=cache_dir, quiet=quiet, auto=auto, started=started, log=log_mode,
           thread_settings=thread_settings, strategy=strategy, cpu_devices=cpu_devices)


def _train(corpus, out, config, *, resume=False, force=False, epochs=None, cache_dir=None, quiet=False,
           auto=(), started=None, changes=None, log="auto", thread_settings=True, strategy="auto", cpu_devices=0):
    # The session (no TensorFlow) handles Ctrl-C and SIGTERM from here, TensorFlow's import included:
    # one line saying what was saved, exit 130 (SIGINT) or 143 (SIGTERM). charkeras/train/interrupts.py
    from charkeras.train.cluster import is_chief_task, uses_cluster
    from charkeras.train.interrupts import session
    from charkeras.train.run_lock import check_not_locked

    if not uses_cluster(strategy) or is_chief_task():  # other workers never write --out (they use a temp dir)
        check_not_locked(out)  # a run another process trains in: refused at once, before TensorFlow loads
    try:
        with session():
            from charkeras.train.driver import fit as fit_model

            fit_model(corpus, out, config, resume=resume, force=force, epochs=epochs, cache_dir=cache_dir,
                      verbose=0 if quiet else 1, auto=auto, started=started, changes=changes, log=log,
                      configure_threads=thread_settings, strategy=strategy, cpu_devices=cpu_devices)
    except KeyboardInterrupt as exc:
        raise SystemExit(getattr(exc, "exit_code", 130)) from None
