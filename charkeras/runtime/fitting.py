"""`charkeras.fit`: the training driver, with the base of a fine-tuned run loaded first.

Training does not depend on the loaders (the stages of docs/ARCHITECTURE.md), so the base that
`init_from` names is read here, through `base_loading.load_base`, and handed to the driver.
"""

from __future__ import annotations

import os

from charkeras.config import CharConfig
from charkeras.errors import CharkerasError, ConfigError, ModelLoadError
from charkeras.runtime.base_loading import load_base
from charkeras.train import driver
from charkeras.train.fine_tuning import left_at_defaults
from charkeras.train.run.directory import RunDir


def fit(source=None, out="runs/charkeras", config: CharConfig | None = None, *,
        init_from: str | os.PathLike | None = None, init_checkpoint: str | os.PathLike = "best",
        resume: bool = False, auto=None, **options):
    """Train a character model on a text, or continue a run exactly where it stopped.

    Everything about the run goes into the directory `out`: its config, checkpoints (the best one
    in `out/checkpoints/best`), logs, samples and report (see the run directory reference). Without
    a `config`, the sizes are chosen from the corpus and printed, as `charkeras fit` does.

    Args:
        source (str | Path | None): The training text: a UTF-8 file, a directory of text files
            (read in name order), or `tfds:NAME[:SPLIT]`. With `resume=True`, None reads the
            run's own corpus.
        out (str | Path): The run directory to create, or with `resume=True` to continue.
        config: The run's configuration [default: `CharConfig()`, with the sizes chosen from the
            corpus].
        init_from: Fine-tuning: start from the weights of this training run or export instead of
            random ones. The shape is the base's, characters the base lacks are added, and the
            fields `config` leaves at their defaults (dropout, batch layout, learning rate,
            warm-up) take the fine-tuning defaults.
        init_checkpoint: With `init_from` a training run: its checkpoint to start from,
            `"best"`, `"latest"` or a checkpoint directory.
        resume: Continue the run in `out` from its newest checkpoint, with its stored config and
            corpus: it ends with the same weights, bit for bit, as a run that never stopped (on a
            CPU). A fine-tuned run resumes from its own checkpoints (leave `init_from` out).
        auto (tuple[str, ...] | None): The config fields chosen from the corpus
            (`charkeras.train.sizing.AUTO_FIELDS`) [default: all of them without a `config`,
            none with one]. The choices are stored in config.json, so a resume keeps them.
        **options (Any): The other training options, by keyword:

            - `force` (bool): replace a charkeras run already in `out` (only the files
              charkeras wrote).
            - `epochs` (int | None): passes over the training text; with `resume=True`, where
              the run now ends.
            - `changes` (dict | None): with `resume=True`, new values for the fields a resume
              may change (`charkeras.config.RESUMABLE`), e.g. `{"learning_rate": 1e-4}`.
            - `verbose` (int): 1 (the default) prints the header, progress, validations,
              samples and a summary; 0 prints nothing.
            - `log` (str): how progress prints with `verbose`: `"auto"`, `"bar"` or `"plain"`.
            - `cache_dir` (str | Path | None): where the encoded corpus is cached [default:
              `$CHARKERAS_CACHE` or `~/.cache/charkeras`].
            - `callbacks` (Sequence[keras.callbacks.Callback]): extra Keras callbacks.
            - `strategy` (str | tf.distribute.Strategy | None): `"auto"`, `"one"`,
              `"mirrored"` or `"multi-worker"` (see Scaling out), or a strategy object.
            - `cpu_devices` (int): split the CPU into this many logical devices first, so the
              mirrored strategy trains data-parallel on a CPU (0: leave it whole).
            - `started` (float | None): `time.monotonic()` when the work began; a time budget
              counts from it [default: now].
            - `configure_threads` (bool): without a GPU, set TensorFlow's thread pools for
              training (one thread per op, one op per core) if TensorFlow has not run an op
              yet. TensorFlow keeps its pools for the rest of the process: pass False to keep
              yours.

    Returns:
        (tuple[keras.Model, dict[str, list[float]]]): The Keras training model with the
            weights of the last step, and the history: the per-epoch lists `loss`, `val_loss`,
            `bpc`, `val_bpc` and `lr` of the epochs this call trained (empty when a resumed run
            had already finished).

    Raises:
        ConfigError: A configuration value is out of range, or `config`'s shape differs from
            the `init_from` base's.
        CorpusError: The text cannot be read, is empty, or is too short for one batch.
        RunDirError: `out` holds another run (pass `force=True` or `resume=True`), another
            process trains in it, or it cannot be resumed as asked (a changed corpus, a change
            a resume may not make).
        ModelLoadError: `init_from` is not a training run or an export.
        TrainingDiverged: The loss became NaN or exploded; the last good checkpoint is kept.
        Interrupted: Ctrl-C or SIGTERM stopped training after saving a checkpoint
            (`charkeras.train.interrupts.Interrupted`, a `KeyboardInterrupt`).

    Examples:
        Train a small model for one epoch, then continue the same run for one more:

        >>> import charkeras
        >>> config = charkeras.CharConfig().replace(
        ...     model={"layers": 1, "units": 32}, data={"batch_size": 8, "seq_len": 50},
        ...     train={"epochs": 1})
        >>> model, history = charkeras.fit("corpus.txt", out="runs/small", config=config, verbose=0)
        >>> sorted(history)
        ['bpc', 'loss', 'lr', 'val_bpc', 'val_loss']
        >>> model, history = charkeras.fit(out="runs/small", resume=True, epochs=2, verbose=0)
        >>> len(history["val_loss"])  # the epochs this call trained
        1

        Fine-tune the shipped Shakespeare model on the same text for one epoch:

        >>> tuned = charkeras.CharConfig().replace(train={"epochs": 1})
        >>> model, history = charkeras.fit("corpus.txt", out="runs/tuned", config=tuned,
        ...                                init_from="saved_models/shakespeare", verbose=0)
        >>> model.count_params() > 3_000_000  # the base's 2 x 512 LSTM
        True

        A time budget plans the steps so the run ends in time, start-up included; with a large
        `epochs`, the budget alone ends it. With `auto`, the sizes are still chosen from the
        corpus, as `charkeras fit mytext.txt --out runs/mine --time-budget 5m` does:

        ```python
        from charkeras.train.sizing import AUTO_FIELDS

        budget = charkeras.CharConfig().replace(train={"time_budget": 300, "epochs": 10**6})
        charkeras.fit("mytext.txt", out="runs/mine", config=budget, auto=AUTO_FIELDS)
        ```
    """
    if init_from is not None:
        if resume:
            raise ConfigError("init_from starts a new run from a base; a resumed run continues "
                              "from its own checkpoints (leave init_from out)")
        config = (config or CharConfig()).replace(train={
            "init_from": str(init_from), "init_checkpoint": str(init_checkpoint)})
    base = None
    if config is not None and config.train.init_from and not resume:
        config = _absolute(config)
        auto = left_at_defaults(config) if auto is None else auto
        base = _load(config.train.init_from, config.train.init_checkpoint)
    elif resume:
        base = _base_of_unstarted_run(out)
    return driver.fit(source, out, config, resume=resume, auto=auto, base=base, **options)


def _absolute(config: CharConfig) -> CharConfig:
    """The base's paths as config.json records them: absolute, so a resume finds them from any
    working directory."""
    train = config.train
    checkpoint = train.init_checkpoint
    if checkpoint not in ("best", "latest"):
        checkpoint = os.path.abspath(checkpoint)
    return config.replace(train={"init_from": os.path.abspath(train.init_from),
                                 "init_checkpoint": checkpoint})


def _load(path: str, checkpoint: str):
    try:
        return load_base(path, checkpoint)
    except CharkerasError as exc:  # a missing, damaged or foreign base: said before any run exists
        raise ModelLoadError(f"--init-from {path}: {exc}") from None


def _base_of_unstarted_run(out):
    """A fine-tuned run resumed before its first checkpoint starts again from its base."""
    run = RunDir(out)
    if not run.exists() or run.list_checkpoints():
        return None
    stored = run.read_config()
    if not stored.train.init_from:
        return None
    return _load(stored.train.init_from, stored.train.init_checkpoint)
