"""`charkeras fit`: train a model, or resume one exactly.

The options that set the run's config are generated from the config's fields
(`config.option_fields`: flag, help, default, choices), so each is defined once, beside the field it
sets.
"""

from __future__ import annotations

import time

import click

from charkeras.config import (
    FINE_TUNE_FIELDS,
    RESUMABLE,
    STRATEGIES,
    CharConfig,
    flag_of,
    option_fields,
    resumable_text,
)
from charkeras.errors import RunDirError
from charkeras.train.planning import UNLIMITED_EPOCHS, parse_duration

LOG_MODES = ("auto", "bar", "plain")  # `train.callbacks.console` (TensorFlow: not imported here)
_CLICK_TYPES = {"int": int, "float": float, "str": str}
# option name (the field's) -> (config section, its flag)
_CONFIG_OPTIONS = {item.name: (section, flag_of(item)) for section, item, _ in option_fields()}


def _config_option(item, option):
    """The click option of one config field: its flag, help and default; fields fit sizes from the
    corpus default to None (left out), shown as `option.auto`."""
    settings = {"help": option.help, "default": item.default, "type": _CLICK_TYPES[item.type]}
    if option.choices:
        settings["type"] = click.Choice(option.choices)
    if option.auto:
        settings.update(default=None, show_default=option.auto.format(default=item.default))
    if option.metavar:
        settings["metavar"] = option.metavar
    if item.default == "":  # an empty default means "not given": nothing to show
        settings["show_default"] = False
    if option.metavar == "DURATION":  # parsed by the command (a bare number is minutes)
        settings.update(type=str, default=None)
    return click.option(flag_of(item), item.name, **settings)


def _config_options(command):
    for _, item, option in reversed(option_fields()):
        command = _config_option(item, option)(command)
    return command


@click.command()
@click.argument("corpus", required=False)
@click.option("--out", default="runs/charkeras",
              help="Run directory for checkpoints, logs and samples.")
@click.option("--resume", "resume_dir", metavar="RUN", default=None,
              help="Continue the run in RUN exactly where it stopped, from any stop (its stored "
                   f"config and corpus; only {resumable_text()} may be given). Refused while "
                   "another process trains in RUN.")
@click.option("--force", is_flag=True,
              help="Replace the charkeras run in --out (only its own files are removed; never a "
                   "directory charkeras did not write, nor a run another process trains in).")
@_config_options
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Where encoded corpora are cached [default: $CHARKERAS_CACHE or "
                   "~/.cache/charkeras].")
@click.option("--quiet", is_flag=True, help="No progress bar or samples.")
@click.option("--thread-settings/--no-thread-settings", "thread_settings", default=True,
              help="Without a GPU, set TensorFlow's thread pools for training (one thread per op, "
                   "one op per core; `threads.configure_training_threads`). --no-thread-settings "
                   "keeps TensorFlow's defaults or your TF_NUM_INTRAOP_THREADS / "
                   "TF_NUM_INTEROP_THREADS.")
@click.option("--log", "log_mode", type=click.Choice(LOG_MODES), default="auto",
              help="Progress display: bar (one line redrawn in place), plain (a line every 30 s, "
                   "for logs and pipes), auto (bar on a terminal, else plain).")
@click.option("--strategy", type=click.Choice(STRATEGIES), default="auto",
              help="Data-parallel training (docs/guides/scaling-out.md): one device; mirrored over "
                   "this machine's GPUs or --cpu-devices; multi-worker over the machines TF_CONFIG "
                   "names; auto picks multi-worker with TF_CONFIG, mirrored with several GPUs (or "
                   "--cpu-devices > 1), else one. --batch-size stays the global number of streams, "
                   "split evenly over the replicas.")
@click.option("--cpu-devices", type=click.IntRange(min=0), default=0,
              help="Split the CPU into N logical devices, so --strategy mirrored runs "
                   "data-parallel on a CPU (0: leave the CPU whole).")
@click.pass_context
def fit(ctx, corpus, out, resume_dir, force, cache_dir, quiet, log_mode, thread_settings, strategy,
        cpu_devices, **options):
    """Train a stateful stacked-LSTM character model on CORPUS.

    CORPUS is a UTF-8 text file, a directory of text files, or tfds:NAME[:SPLIT]. Sizes shown as
    "by corpus size" follow the table in docs/guides/training.md when left out.
    """
    started = time.monotonic()  # --time-budget counts from here (TensorFlow's import comes later)
    given = [name for name in options
             if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT]
    run = {"quiet": quiet, "cache_dir": cache_dir, "log": log_mode,
           "thread_settings": thread_settings, "strategy": strategy, "cpu_devices": cpu_devices}
    if resume_dir is not None:
        _train(corpus, resume_dir, None, resume=True,
               changes=_resume_changes(options, given, force), **run)
        return
    if corpus is None:
        raise click.UsageError("give the training text: charkeras fit CORPUS (or --resume RUN)")
    if "time_budget" in given:
        options["time_budget"] = parse_duration(options["time_budget"])
        if "epochs" not in given:
            options["epochs"] = UNLIMITED_EPOCHS  # the budget ends it; the plan sets the real count
    sections = {"model": {}, "data": {}, "train": {}}
    auto = []  # options left out that fit chooses from the corpus (`train.sizing`)
    for name, value in options.items():
        if value is None and name != "time_budget":
            auto.append(name)
        elif value is not None:
            sections[_CONFIG_OPTIONS[name][0]][name] = value
    # Left out, these have defaults fit may replace: the fine-tuning ones (`train.fine_tuning`),
    # or the learning rate that goes with a chosen layout (a time budget's rung, or a small
    # corpus's: `train.sizing`).
    chosen_too = FINE_TUNE_FIELDS if options["init_from"] else ("learning_rate",)
    auto += [name for name in chosen_too if name not in given]
    config = CharConfig().replace(**sections).validate()  # before the run directory exists
    _train(corpus, out, config, force=force, auto=auto, started=started, **run)


def _resume_changes(options: dict, given: list[str], force: bool) -> dict:
    """The train fields a resume changes (only `config.RESUMABLE` ones), checked before the run
    opens."""
    if "init_from" in given or "init_checkpoint" in given:
        raise RunDirError("--init-from starts a new run from a base; --resume continues RUN from "
                          "its own checkpoints (a fine-tuned run keeps its base): leave "
                          "--init-from out")
    refused = [_CONFIG_OPTIONS[name][1] for name in given if name not in RESUMABLE]
    if refused or force:
        flags = ", ".join(refused + (["--force"] if force else []))
        raise RunDirError(f"--resume uses the run's stored config; only {resumable_text()} may "
                          f"change (got {flags})")
    changes = {name: options[name] for name in given}
    CharConfig().replace(train=changes).validate()  # out-of-range values: refused before any work
    return changes


def _train(corpus, out, config, *, resume=False, force=False, cache_dir=None, quiet=False, auto=(),
           started=None, changes=None, log="auto", thread_settings=True, strategy="auto",
           cpu_devices=0):
    # The session (no TensorFlow) handles Ctrl-C and SIGTERM from here, TensorFlow's import
    # included: one line saying what was saved, exit 130 (SIGINT) or 143 (SIGTERM)
    # (`train.interrupts`).
    from charkeras.train.distributed.cluster import is_chief_task, uses_cluster
    from charkeras.train.interrupts import session
    from charkeras.train.run.lock import check_not_locked

    # other workers never write --out (they use a temp dir)
    if not uses_cluster(strategy) or is_chief_task():
        # a run another process trains in: refused at once, before TensorFlow loads
        check_not_locked(out)
    try:
        with session():
            from charkeras.runtime.fitting import fit as fit_model

            fit_model(corpus, out, config, resume=resume, force=force, cache_dir=cache_dir,
                      verbose=0 if quiet else 1, auto=auto, started=started, changes=changes,
                      log=log, configure_threads=thread_settings, strategy=strategy,
                      cpu_devices=cpu_devices)
    except KeyboardInterrupt as exc:
        raise SystemExit(getattr(exc, "exit_code", 130)) from None
