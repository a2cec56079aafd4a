"""Run configuration: frozen dataclasses with validation and a JSON round trip.

Every run directory holds `config.json`; resuming compares the stored config with the requested one,
so the fields here are the single description of a run. A field that `fit` takes as an option
carries it (`Option` in the field's metadata: flag, help, choices, whether a resume may change it);
the command's options are generated from them (`option_fields`), and `RESUMABLE` is the one list of
what a resume may change.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field

from charkeras.errors import ConfigError, require

LR_SCHEDULES = ("constant", "cosine", "exponential")
OPTIMIZERS = ("adam", "adamw", "rmsprop")
# auto: the fused CPU layer (`model.fused_lstm`) without a GPU, keras.layers.LSTM (cuDNN) with one
LSTM_IMPLS = ("auto", "keras", "fused")
# How the fused layer's recurrence holds its states (`model.lstm_layout`); auto: timed at the start
# of a run and recorded, so a resumed run keeps it
LSTM_LAYOUTS = ("auto", "feature", "row")
# fit --strategy (`train.distributed.strategy`): a property of how a run trains now, not of the run
STRATEGIES = ("auto", "one", "mirrored", "multi-worker")

# Stated maxima, checked before a run directory exists. Step counts, seeds and sizes travel as int32
# (the samples' stateless seed [seed, step], the dropout seed generators, TensorFlow's shapes).
INT32_MAX = 2**31 - 1
SEED_MAX = INT32_MAX
STEPS_MAX = INT32_MAX
TIME_BUDGET_MAX = 365 * 86400.0  # one year, in seconds
# A network larger than these does not fit any machine charkeras trains on (a 8192-unit layer alone
# holds 4 x 8192 x 16384 float32 weights: 2 GB); a hand-edited config.json is refused here rather
# than by an allocation failure.
UNITS_MAX = 8192
EMBEDDING_MAX = 8192
LAYERS_MAX = 32
VOCAB_MAX = 0x110000 + 2  # every Unicode code point, plus the padding and unknown ids
# fit's samples show progress; generate writes long texts. A sample runs inside a training step's
# callback, where a stop signal waits for it to end.
SAMPLE_LEN_MAX = 10_000
AUTO = "by corpus size"  # shown as the default of the sizes fit chooses from the corpus
# What a run started from a base (--init-from) uses for the options left out: measured with
# tools/bench_finetune.py (docs/guides/fine-tuning.md). A fine-tuned model starts near a good
# solution: a short warm-up, a higher peak than from scratch, and more, smaller steps in a short
# time.
FINE_TUNE_LR = 4e-3
FINE_TUNE_WARMUP = 10
FINE_TUNE_LAYOUT = (16, 100)  # batch size x seq-len
# The training fields with a fine-tuning default (taken when left out, like the sizes).
FINE_TUNE_FIELDS = ("learning_rate", "warmup_steps")


@dataclass(frozen=True)
class Option:
    """How a config field is given on `fit`'s command line. `flag` defaults to the field's name
    (--embedding-dim for embedding_dim); `auto` is the default shown for a field fit sizes from the
    corpus when it is left out; `resumable` fields may change on a resume; `metavar` DURATION makes
    the value a duration (90s, 15m, 2h)."""

    help: str
    flag: str = ""
    choices: tuple[str, ...] = ()
    auto: str = ""
    resumable: bool = False
    metavar: str = ""


def _field(default, help: str, **option):
    return field(default=default, metadata={"option": Option(help, **option)})


def option_of(item: dataclasses.Field) -> Option | None:
    return item.metadata.get("option")


def flag_of(item: dataclasses.Field) -> str:
    """The CLI flag of a field (or its config key when fit has no option for it)."""
    option = option_of(item)
    if option is None:
        return item.name
    return option.flag or "--" + item.name.replace("_", "-")


def _finite(value) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float, from a hand-edited config.json
        return False


def _check_finite(section) -> None:
    """Every number field is finite (run first: a NaN would fail each range check's wording)."""
    for item in dataclasses.fields(section):
        value = getattr(section, item.name)
        if item.type == "float":
            require(_finite(value), f"{flag_of(item)} must be a finite number (got {value})")


def _check_int32(section) -> None:
    """Every integer field fits in int32 (run last: a field's own, tighter maximum speaks first)."""
    for item in dataclasses.fields(section):
        value = getattr(section, item.name)
        if item.type == "int":
            require(value <= INT32_MAX, f"{flag_of(item)} must be <= {INT32_MAX} (got {value})")


@dataclass(frozen=True)
class ModelConfig:
    """The network's shape: `Embedding -> [LSTM -> Dropout] x layers -> Dense`.

    Each field below that `charkeras fit` takes as an option is documented by that option's help.

    Attributes:
        vocab_size: Characters in the vocabulary, padding and unknown ids included; `fit` fills
            it in from the corpus (0 until then).

    Examples:
        >>> import charkeras
        >>> charkeras.ModelConfig(layers=1, units=128).units
        128
        >>> charkeras.ModelConfig(dropout=1.0).validate()
        Traceback (most recent call last):
        charkeras.errors.ConfigError: --dropout must be in [0, 1) (got 1.0)
    """

    vocab_size: int = 0
    embedding_dim: int = _field(64, "Character embedding size.", auto=AUTO)
    units: int = _field(512, "LSTM units per layer.", auto=AUTO)
    layers: int = _field(2, "Stacked LSTM layers.", auto=AUTO)
    dropout: float = _field(0.5, "Dropout after each LSTM layer, in [0, 1).", auto=AUTO)
    # Which LSTM kernel trains; all compute the same function with the same weights.
    lstm_impl: str = _field(
        "auto", "LSTM kernel, same mathematics and weights: fused (fast on CPU), keras "
        "(keras.layers.LSTM, cuDNN on a GPU), auto (keras with a GPU, fused without).",
        choices=LSTM_IMPLS)
    # The fused layer's layout; `fit` replaces auto by the one it timed faster.
    lstm_layout: str = _field(
        "auto", "How the fused LSTM's recurrence holds its states (same numbers up to rounding): "
        "auto times both on this CPU when the run starts and records the faster in config.json.",
        choices=LSTM_LAYOUTS)

    def validate(self) -> None:
        _check_finite(self)
        require(0 <= self.vocab_size <= VOCAB_MAX,
                f"vocab_size must be in [0, {VOCAB_MAX}] (got {self.vocab_size})")
        require(1 <= self.embedding_dim <= EMBEDDING_MAX,
                f"--embedding-dim must be in [1, {EMBEDDING_MAX}] (got {self.embedding_dim})")
        require(1 <= self.units <= UNITS_MAX,
                f"--units must be in [1, {UNITS_MAX}] (got {self.units})")
        require(1 <= self.layers <= LAYERS_MAX,
                f"--layers must be in [1, {LAYERS_MAX}] (got {self.layers})")
        require(0.0 <= self.dropout < 1.0, f"--dropout must be in [0, 1) (got {self.dropout})")
        _check_choice(self, "lstm_impl")
        _check_choice(self, "lstm_layout")
        _check_int32(self)


@dataclass(frozen=True)
class DataConfig:
    """How the corpus is read and cut into batches: B parallel streams of T characters.

    Batch k holds characters [k * T, (k + 1) * T) of each of the B streams (contiguous pieces of
    the training text), so the LSTM state carried from one batch to the next is meaningful. Each
    field is documented by its `charkeras fit` option.

    Examples:
        >>> import charkeras
        >>> data = charkeras.DataConfig(batch_size=16, seq_len=50)
        >>> data.batch_size * data.seq_len  # characters per training step
        800
    """

    batch_size: int = _field(64, "Parallel streams (B).", auto="{default}, less for small corpora")
    seq_len: int = _field(100, "Truncated BPTT length in characters (T).",
                          auto="{default}, less for tiny corpora")
    val_frac: float = _field(0.1, "Fraction of the text, from its end, held out.")
    encoding: str = _field("utf-8", "Text encoding of the corpus files.")
    # Validation reads at most this many batches (B x T characters each) from the start of the
    # held-out text, so a 100 MB corpus is not validated on 10 MB every time.
    val_batches: int = _field(
        100, "Validate on at most N batches from the start of the held-out text (0 = all of it).")

    def validate(self) -> None:
        _check_finite(self)
        require(self.batch_size >= 1, f"--batch-size must be >= 1 (got {self.batch_size})")
        require(self.seq_len >= 1, f"--seq-len must be >= 1 (got {self.seq_len})")
        require(0.0 < self.val_frac <= 0.5, f"--val-frac must be in (0, 0.5] (got {self.val_frac})")
        require(self.val_batches >= 0,
                f"--val-batches must be >= 0 (got {self.val_batches}); 0 means all")
        _check_int32(self)


@dataclass(frozen=True)
class TrainConfig:
    """How the run trains: its length, optimizer and schedule, checkpoints, validations, samples.

    Each field that `charkeras fit` takes as an option is documented by that option's help; a
    resume may change only those marked so (`charkeras.config.RESUMABLE`).

    Attributes:
        schedule_steps: The learning-rate schedule's length in steps, pinned when a resume
            changes `epochs` or `max_steps` (0: the steps the run plans), so a longer run holds
            the final learning rate instead of jumping back up.
        min_lr_frac: The cosine and exponential schedules end at `learning_rate * min_lr_frac`.
        max_loss: A training loss above this counts as exploded: the run stops, naming the last
            good checkpoint.

    Examples:
        >>> import charkeras
        >>> train = charkeras.TrainConfig(epochs=5, learning_rate=1e-3, patience=3)
        >>> train.optimizer, train.lr_schedule
        ('adam', 'cosine')
        >>> charkeras.TrainConfig(time_budget=900).time_budget  # seconds: --time-budget 15m
        900
    """

    epochs: int = _field(
        20, "Passes over the training text. With --resume: where the run now stops; the LR "
        "schedule keeps its length and holds its final LR beyond it (no jump up).", resumable=True)
    # Steps; the LR schedule fits them (0: after `epochs`).
    max_steps: int = _field(
        0, "Stop after N optimizer steps, mid-epoch if need be (0: after --epochs); the "
        "learning-rate schedule spans the steps that will run. For corpora whose epoch takes "
        "hours.",
        resumable=True)
    optimizer: str = _field("adam", "Optimizer.", choices=OPTIMIZERS)
    learning_rate: float = _field(
        2e-3, "Peak learning rate (left out: 0.008 for the smallest model at 64 streams, which "
        "a time budget or a corpus under 100 K chars may choose). With --resume: the new peak, "
        "scaling the schedule from the resumed step on.", flag="--lr", resumable=True)
    # The LR schedule's length in steps, pinned when a resume changes --epochs/--max-steps (0: the
    # steps the run plans): a longer run then holds the final LR, it never jumps (`train.resuming`).
    schedule_steps: int = 0
    lr_schedule: str = _field("cosine", "Learning-rate schedule over the whole run.",
                              choices=LR_SCHEDULES)
    min_lr_frac: float = 0.05  # cosine/exponential decay ends at learning_rate * min_lr_frac
    # what fit chose for the sizes left out, and why (`train.sizing`), for the record
    sizing: str = ""
    warmup_steps: int = _field(0, "Linear warm-up steps (cosine only).")
    weight_decay: float = _field(0.0, "Decoupled weight decay (adamw).", resumable=True)
    clipnorm: float = _field(5.0, "Gradient norm clipping.", resumable=True)
    seed: int = _field(1234, "Seed for weights, dropout and samples.")
    checkpoint_every: int = _field(
        500, "Checkpoint every N steps (and at each epoch end); 0 = epoch ends only.")
    keep_checkpoints: int = _field(3, "Newest checkpoints kept (plus the best).")
    val_every: int = _field(
        0, "Also validate every N steps (and at each epoch end); 0 = by the clock: every 5% of "
        "--time-budget but at least every 2 minutes, at most 5% of the time spent validating.")
    sample_every: int = _field(
        0, "Print a generated sample every N steps (and at an epoch end); 0 = by the clock: about "
        "every 2 minutes.")
    sample_len: int = _field(200, f"Characters per training sample (at most {SAMPLE_LEN_MAX:,}).")
    sample_temperature: float = _field(0.8, "Temperature of samples.")
    max_loss: float = 20.0  # a training loss above this counts as exploded
    # Seconds from the command's start (0: none); fit plans max_steps to fit it.
    time_budget: float = _field(
        0.0, "Train for this long, start-up included (90s, 15m, 2h, 1h30m; at most a year): fit "
        "times the first steps, sets the steps and the LR schedule to end in time and prints the "
        "plan. --epochs and --max-steps, when given, still end it sooner. The shape left out is "
        "the one the budget can train on this machine (docs/guides/sizing-study.md).",
        metavar="DURATION")
    patience: int = _field(
        0, "Stop after N validations in a row without a new best val loss (0: never); the best "
        "checkpoint is kept.")
    cluster_timeout: float = _field(
        300.0, "Seconds a multi-worker start waits for the other workers of TF_CONFIG.",
        resumable=True)
    # The base a fine-tuned run started from, recorded absolute (`runtime.fitting` loads it; the
    # driver is given the loaded base): "" for a run from random weights.
    init_from: str = _field(
        "", "Start from MODEL's weights instead of random ones: a training run (its best "
        "checkpoint, or --init-checkpoint) or an export, such as saved_models/shakespeare. Worth "
        "it for a small corpus (up to a few MB) or a short --time-budget in a kind of text the "
        "base knows; of little use for a large corpus, or a text far from the base's (source code "
        "from an English base). The shape (--layers, --units, --embedding-dim) is the base's; "
        "characters the base lacks are added. Options left out take the fine-tuning defaults: "
        f"--lr {FINE_TUNE_LR:g}, --warmup-steps {FINE_TUNE_WARMUP}, --batch-size "
        f"{FINE_TUNE_LAYOUT[0]} --seq-len {FINE_TUNE_LAYOUT[1]}, the base's --dropout.",
        metavar="MODEL")
    init_checkpoint: str = _field(
        "best", "With --init-from RUN: which checkpoint of RUN to start from: best, latest or a "
        "checkpoint directory (ignored for an export).",
        metavar="CHECKPOINT")

    def validate(self) -> None:
        _check_finite(self)
        require(1 <= self.epochs <= STEPS_MAX,
                f"--epochs must be in [1, {STEPS_MAX}] (got {self.epochs})")
        require(self.max_steps >= 0,
                f"--max-steps must be >= 0 (got {self.max_steps}); 0 means no limit")
        _check_choice(self, "optimizer")
        require(self.schedule_steps >= 0,
                f"schedule_steps must be >= 0 (got {self.schedule_steps})")
        require(self.learning_rate > 0, f"--lr must be > 0 (got {self.learning_rate})")
        _check_choice(self, "lr_schedule")
        require(0.0 <= self.min_lr_frac <= 1.0,
                f"min_lr_frac must be in [0, 1] (got {self.min_lr_frac})")
        require(self.warmup_steps >= 0, f"--warmup-steps must be >= 0 (got {self.warmup_steps})")
        require(self.weight_decay >= 0, f"--weight-decay must be >= 0 (got {self.weight_decay})")
        require(self.clipnorm > 0, f"--clipnorm must be > 0 (got {self.clipnorm})")
        require(0 <= self.seed <= SEED_MAX, f"--seed must be in [0, {SEED_MAX}] (got {self.seed})")
        require(self.checkpoint_every >= 0,
                f"--checkpoint-every must be >= 0 (got {self.checkpoint_every})")
        require(self.keep_checkpoints >= 1,
                f"--keep-checkpoints must be >= 1 (got {self.keep_checkpoints})")
        require(self.val_every >= 0, f"--val-every must be >= 0 (got {self.val_every})")
        require(self.sample_every >= 0, f"--sample-every must be >= 0 (got {self.sample_every})")
        require(1 <= self.sample_len <= SAMPLE_LEN_MAX,
                f"--sample-len must be in [1, {SAMPLE_LEN_MAX}] (got {self.sample_len}); "
                "charkeras generate writes longer texts")
        require(self.sample_temperature >= 0, "--sample-temperature must be >= 0")
        require(self.max_loss > 0, f"max_loss must be > 0 (got {self.max_loss})")
        require(0 <= self.time_budget <= TIME_BUDGET_MAX,
                f"--time-budget must be at most a year ({TIME_BUDGET_MAX:.0f} s; got "
                f"{self.time_budget:.0f} s)")
        require(self.patience >= 0,
                f"--patience must be >= 0 (got {self.patience}); 0 means never stop early")
        require(0 < self.cluster_timeout <= 86400,
                f"--cluster-timeout must be in (0, 86400] seconds (got {self.cluster_timeout})")
        require(bool(self.init_checkpoint.strip()),
                "--init-checkpoint must be best, latest or a checkpoint directory (got nothing)")
        _check_int32(self)


def _check_choice(section, name: str) -> None:
    item = next(f for f in dataclasses.fields(section) if f.name == name)
    choices = option_of(item).choices
    value = getattr(section, name)
    require(value in choices,
            f"{flag_of(item)} must be one of {', '.join(choices)} (got {value!r})")


SECTIONS = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}


def option_fields() -> list[tuple[str, dataclasses.Field, Option]]:
    """(section, field, option) for every config field `fit` takes as an option, in field order."""
    return [(name, item, option_of(item)) for name, kind in SECTIONS.items()
            for item in dataclasses.fields(kind) if option_of(item) is not None]


def flags_of(names) -> str:
    """"--layers/--units/--lr": the CLI flags of config fields named in `names`, in their order."""
    flags = {item.name: flag_of(item) for _, item, _ in option_fields()}
    return "/".join(flags[name] for name in names)


# The one list of what a resume may change: train field -> its flag. Everything else is the run's.
# Only train fields are resumable: a run's model and data are what its checkpoints were made of.
RESUMABLE = {item.name: flag_of(item) for item in dataclasses.fields(TrainConfig)
             if option_of(item) is not None and option_of(item).resumable}


def resumable_text() -> str:
    """"--epochs, --max-steps, ... and --cluster-timeout", for help texts and messages."""
    flags = list(RESUMABLE.values())
    return ", ".join(flags[:-1]) + " and " + flags[-1]


@dataclass(frozen=True)
class CharConfig:
    """A run's whole configuration: the `model`, `data` and `train` sections.

    Frozen: `replace` makes changed copies. Every run stores its config as `config.json`, with
    the choices `fit` made (sizes chosen from the corpus, a time budget's plan) filled in.

    Examples:
        >>> import charkeras
        >>> config = charkeras.CharConfig().replace(model={"units": 256}, train={"epochs": 5})
        >>> config.model.units, config.train.epochs
        (256, 5)
        >>> charkeras.CharConfig.from_json(config.to_json()) == config
        True
        >>> config.replace(data={"val_frac": 0.9}).validate()
        Traceback (most recent call last):
        charkeras.errors.ConfigError: --val-frac must be in (0, 0.5] (got 0.9)
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> CharConfig:
        self.model.validate()
        self.data.validate()
        self.train.validate()
        return self

    def replace(self, **sections) -> CharConfig:
        """A copy with whole sections or single fields replaced: replace(model={"units": 8})."""
        updated = {}
        for name, changes in sections.items():
            current = getattr(self, name)
            is_fields = isinstance(changes, dict)
            updated[name] = dataclasses.replace(current, **changes) if is_fields else changes
        return dataclasses.replace(self, **updated)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> CharConfig:
        if not isinstance(data, dict):
            raise ConfigError(f"config must be a JSON object of sections {', '.join(SECTIONS)}")
        for name, kind in SECTIONS.items():
            _check_field_types(name, kind, data.get(name, {}))
        try:
            return cls(**{name: kind(**data.get(name, {})) for name, kind in SECTIONS.items()})
        except TypeError as exc:  # unknown or misspelt field in a hand-edited config.json
            raise ConfigError(f"config does not match this charkeras version: {exc}") from None

    @classmethod
    def from_json(cls, text: str) -> CharConfig:
        return cls.from_dict(json.loads(text))


_JSON_TYPES = {"int": ((int,), "an integer"), "float": ((int, float), "a number"),
               "str": ((str,), "a string")}


def _check_field_types(name: str, kind, values) -> None:
    """A stored section's values have their field's JSON type (a hand-edited "units": "512" is
    refused here, not by a TypeError deep in training)."""
    if not isinstance(values, dict):
        raise ConfigError(f"config section {name} must be an object (got {type(values).__name__})")
    types = {f.name: _JSON_TYPES.get(f.type) for f in dataclasses.fields(kind)}
    for key, value in values.items():
        expected, description = types.get(key) or (None, "")
        if expected and (isinstance(value, bool) or not isinstance(value, expected)):
            raise ConfigError(f"config {name}.{key} must be {description} (got {value!r})")
