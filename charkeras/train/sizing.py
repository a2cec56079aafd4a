"""Sizes chosen from the corpus: the batch layout that fits its split, and the model for its size.

`fit` calls `choose_sizes` with the options the user did not give (`auto`); an option given
explicitly is never changed. The chosen values go into the run's config.json like any other, so a
resumed run uses them without choosing again. No TensorFlow here.

The model table (docs/guides/training.md, "Sizes chosen from the corpus") comes from short runs
measured on a 2-core CPU: see `MODEL_TABLE`. With a time budget and the shape left out, the shape is
the one the budget buys on this machine (`budget_sizing`), the table's model being the largest
allowed; without a budget, a small corpus trains the smallest model at the layout and learning
rate of `SMALL_CORPUS`, and a line says how long the run will take here. config.json records why
(train.sizing).
"""

from __future__ import annotations

from dataclasses import dataclass

from charkeras.config import CharConfig, DataConfig, ModelConfig, flags_of
from charkeras.data.streams import StreamLayout, validation_seq_len
from charkeras.errors import CorpusError
from charkeras.train.budget_sizing import (
    SEQ_LEN,
    Throughput,
    choose_rung,
    parameter_count,
)
from charkeras.train.planning import format_duration

LAYOUT_FIELDS = ("batch_size", "seq_len")
MODEL_FIELDS = ("layers", "units", "embedding_dim", "dropout")
# The learning rate is chosen only with a batch layout it was measured with: a time budget's rung,
# or the small-corpus layout without a budget (`SMALL_CORPUS`).
AUTO_FIELDS = LAYOUT_FIELDS + MODEL_FIELDS + ("learning_rate",)

# (B, T) in order of preference: the defaults first, then fewer streams down to 8, then shorter
# windows.
_LAYOUTS = ((64, 100), (32, 100), (16, 100), (8, 100), (8, 50), (8, 25), (4, 25), (4, 12), (2, 12),
            (2, 6), (1, 6), (1, 3), (1, 2), (1, 1))
_BATCH_SIZES = (64, 32, 16, 8, 4, 2, 1)
_SEQ_LENS = (100, 50, 25, 12, 6, 3, 2, 1)


@dataclass(frozen=True)
class ModelSize:
    up_to_chars: float  # training characters below which this row applies
    layers: int
    units: int
    embedding_dim: int
    dropout: float

    def describe(self) -> str:
        return (f"{self.layers} x {self.units} units, embedding {self.embedding_dim}, "
                f"dropout {self.dropout}")


# By training characters. The rows below 1 MB were chosen from measured runs
# (docs/guides/training.md); the 1-10 MB row is the shipped Shakespeare model's shape and its
# dropout 0.3, what that model was trained with.
MODEL_TABLE = (
    ModelSize(100_000, 1, 128, 32, 0.2),
    ModelSize(1_000_000, 2, 256, 64, 0.2),
    ModelSize(10_000_000, 2, 512, 64, 0.3),
    ModelSize(float("inf"), 3, 512, 64, 0.2),
)


def model_size_for(train_chars: int) -> ModelSize:
    return next(row for row in MODEL_TABLE if train_chars < row.up_to_chars)


def _fits(n_ids: int, batch_size: int, seq_len: int, batches: int = 1) -> bool:
    return (n_ids - 1) // batch_size // seq_len >= batches


def _minimum_corpus(val_frac: float) -> int:
    """Characters needed for one 1 x 1 batch on each side of the split (2 ids each)."""
    n = 4
    while int(n * (1.0 - val_frac)) < 2 or n - int(n * (1.0 - val_frac)) < 2:
        n += 1
    return n


def choose_layout(data: DataConfig, n_train: int, n_val: int, auto: set[str]) -> DataConfig:
    """Batch size and seq-len that fit both sides of the split, among the fields in `auto`.

    Prefers layouts with at least 2 validation batches and 4 training batches, then any that fit.
    The validation batches are full windows here: a small corpus keeps the smaller batches (more
    steps in its epochs) it trained with before validation could read shorter windows; a time
    budget's rung (`_budget_shape`) and the small-corpus layout (`SMALL_CORPUS`) are held only to
    `fits_training`.
    Given sizes that do not fit raise the CorpusError of StreamLayout, which says what to pass.
    """
    total = n_train + n_val
    if n_train < 2 or n_val < 2:
        raise CorpusError(
            f"the corpus ({total:,} chars) is too short to train on: at --val-frac {data.val_frac} "
            f"it needs at least {_minimum_corpus(data.val_frac):,} characters, and a few KB to "
            "learn anything")
    free_b, free_t = "batch_size" in auto, "seq_len" in auto
    if free_b and free_t:
        candidates = _LAYOUTS
    elif free_b:
        candidates = tuple((b, data.seq_len) for b in _BATCH_SIZES)
    elif free_t:
        candidates = tuple((data.batch_size, t) for t in _SEQ_LENS)
    else:
        candidates = ()
    for need_val, need_train in ((2, 4), (1, 1)):
        for b, t in candidates:
            if _fits(n_val, b, t, need_val) and _fits(n_train, b, t, need_train):
                return DataConfig(**{**data.__dict__, "batch_size": b, "seq_len": t})
    # Nothing automatic fits (or nothing was free): the given sizes, checked with a message that
    # says what to pass instead. Validation may read shorter windows (`validation_seq_len`).
    b, t = data.batch_size, data.seq_len
    StreamLayout.for_length(n_train, b, t, "training text")
    StreamLayout.for_length(n_val, b, validation_seq_len(n_val, b, t), "validation text",
                            hint=f"; or raise --val-frac (now {data.val_frac})")
    return data


def choose_model(model: ModelConfig, n_train: int, auto: set[str]) -> ModelConfig:
    row = model_size_for(n_train)
    changes = {name: getattr(row, name) for name in MODEL_FIELDS if name in auto}
    return ModelConfig(**{**model.__dict__, **changes})


def choose_sizes(config: CharConfig, n_train: int, n_val: int, auto,
                 speed: Throughput | None = None) -> tuple[CharConfig, list[str]]:
    """The config with the `auto` fields chosen for this corpus, and one line per choice to print
    (also recorded in train.sizing). `speed`: this machine's training speed
    (`throughput.MeasuredThroughput`), for sizing to a time budget and the no-budget estimate."""
    auto = set(auto)
    unknown = auto - set(AUTO_FIELDS)
    if unknown:
        raise ValueError(f"not an automatic field: {sorted(unknown)}")
    notes = []
    if speed is not None and _sized_by_budget(config, auto):
        config, auto, note = _budget_shape(config, n_train, n_val, auto, speed)
        notes.append(note)
    elif _small_corpus_recipe_applies(config, n_train, n_val, auto):
        config, auto, note = _small_corpus_layout(config, n_train, auto)
        notes.append(note)
    data = choose_layout(config.data, n_train, n_val, auto)
    if (data.batch_size, data.seq_len) != (config.data.batch_size, config.data.seq_len):
        notes.append(
            f"small corpus ({n_train:,} training / {n_val:,} validation chars): --batch-size "
            f"{data.batch_size} --seq-len {data.seq_len} instead of {config.data.batch_size} x "
            f"{config.data.seq_len}, so both sides of the split hold whole batches (pass them to "
            "choose)")
    model = choose_model(config.model, n_train, auto)
    chosen = [name for name in MODEL_FIELDS if name in auto]
    if chosen:
        flags = flags_of(chosen)
        picked = ", ".join(f"{name.replace('_', ' ')} {getattr(model, name)}" for name in chosen)
        notes.append(f"model for {_size(n_train)} of training text: {picked} "
                     f"(docs/guides/training.md, 'Sizes chosen from the corpus'; pass {flags} to "
                     "choose)")
    config = config.replace(model=model, data=data)
    if speed is not None and not config.train.time_budget and BUDGET_FIELDS[0] in auto:
        notes.append(_duration_note(config, n_train, speed))
    if notes:
        config = config.replace(train={"sizing": " | ".join(notes)})
    return config, notes


@dataclass(frozen=True)
class Recipe:
    """How a model trains: its batch layout and learning rate, and the training batches a corpus
    must hold for it."""
    batch_size: int
    seq_len: int
    learning_rate: float
    train_batches: int


# Without a time budget, the table's smallest model on a small corpus: the default 20 epochs of a
# few dozen KB are few steps, so it trains at 64 streams in windows of 75 (a third more steps per
# epoch than 100) at the raised rate of the budget ladder's smallest rung. The 8-32 streams it used
# before train slower than PyTorch; this layout ~1.3x faster, and it scored 2-17% lower on 5 small
# texts of 27-90 KB (docs/guides/training.md). Windows of 50 scored lower still, but train at
# PyTorch's speed or just under it. Under 5 batches of training text (fewer than 100 steps in 20
# epochs) the fewer streams do better: they are kept there.
SMALL_CORPUS = Recipe(64, 75, 8e-3, train_batches=5)


def _small_corpus_recipe_applies(config: CharConfig, n_train: int, n_val: int,
                                 auto: set[str]) -> bool:
    """No budget, the layout and rate left out, the table's smallest model chosen or given, and a
    corpus holding the recipe's batches."""
    small = MODEL_TABLE[0]
    model = choose_model(config.model, n_train, auto)
    return (not config.train.time_budget
            and {*LAYOUT_FIELDS, "learning_rate"} <= auto
            and (model.layers, model.units, model.embedding_dim)
            == (small.layers, small.units, small.embedding_dim)
            and fits_training(n_train, n_val, SMALL_CORPUS.batch_size, SMALL_CORPUS.seq_len,
                              SMALL_CORPUS.train_batches))


def _small_corpus_layout(config: CharConfig, n_train: int,
                         auto: set[str]) -> tuple[CharConfig, set[str], str]:
    recipe = SMALL_CORPUS
    note = (f"small corpus ({n_train:,} training chars) without a time budget: --batch-size "
            f"{recipe.batch_size} --seq-len {recipe.seq_len} --lr {recipe.learning_rate:g}, more "
            "steps per epoch for the small model (docs/guides/training.md, 'Sizes chosen from the "
            "corpus'; pass them to choose)")
    config = config.replace(data={"batch_size": recipe.batch_size, "seq_len": recipe.seq_len},
                            train={"learning_rate": recipe.learning_rate})
    return config, auto - set(LAYOUT_FIELDS) - {"learning_rate"}, note


# The shape fields a time budget chooses; the dropout still comes from the corpus-size table.
BUDGET_FIELDS = ("layers", "units", "embedding_dim")
BUDGET_GUIDE = "docs/guides/sizing-study.md"


def _sized_by_budget(config: CharConfig, auto: set[str]) -> bool:
    """A budget sizes the shape when the shape is left out; a fine-tuned run keeps its base's."""
    return bool(config.train.time_budget) and not config.train.init_from and \
        {"layers", "units"} <= auto


def _budget_shape(config: CharConfig, n_train: int, n_val: int, auto: set[str],
                  speed: Throughput) -> tuple[CharConfig, set[str], str]:
    """The rung the budget buys (`budget_sizing.choose_rung`), at most the table's model, with its
    batch size when the layout is left out and fits the corpus; the fields it set leave `auto`."""
    vocab, cap = config.model.vocab_size, model_size_for(n_train)
    given_batch = None if "batch_size" in auto else config.data.batch_size
    choice = choose_rung(config.train.time_budget, vocab,
                         parameter_count(cap.layers, cap.units, cap.embedding_dim, vocab),
                         speed, given_batch)
    rung = choice.rung
    model = {name: getattr(rung, name) for name in BUDGET_FIELDS if name in auto}
    data, train = {}, {}
    if set(LAYOUT_FIELDS) <= auto and fits_training(n_train, n_val, rung.batch_size, SEQ_LEN):
        data = {"batch_size": rung.batch_size, "seq_len": SEQ_LEN}
        # the rung's learning rate goes with its batch size
        if "learning_rate" in auto and rung.learning_rate != config.train.learning_rate:
            train = {"learning_rate": rung.learning_rate}
    flags = flags_of([*model, *data, *train])
    lr = f", learning rate {train['learning_rate']:g}" if train else ""
    note = (f"model for a {format_duration(config.train.time_budget)} budget: {choice.why}{lr} "
            f"({BUDGET_GUIDE}; pass {flags} to choose)")
    return (config.replace(model=model, data=data, train=train),
            auto - set(model) - set(data) - {"learning_rate"}, note)


def fits_training(n_train: int, n_val: int, batch_size: int, seq_len: int,
                  train_batches: int = 4) -> bool:
    """At least `train_batches` training batches of batch_size x seq_len, and 2 validation batches
    of batch_size streams in windows of up to seq_len (`streams.validation_seq_len`): the held-out
    10% of a small corpus then no longer holds the training batch size down."""
    return _fits(n_train, batch_size, seq_len, train_batches) and \
        _fits(n_val, batch_size, validation_seq_len(n_val, batch_size, seq_len), 2)


def _duration_note(config: CharConfig, n_train: int, speed: Throughput) -> str:
    """How long the run will take here, and the option that sizes the model to the time at hand."""
    model, data, train = config.model, config.data, config.train
    rate = speed.chars_per_second(model.layers, model.units, model.embedding_dim,
                                  model.vocab_size, data.batch_size, data.seq_len)
    chars, length = train.epochs * n_train, f"{train.epochs} epochs"
    by_steps = train.max_steps * data.batch_size * data.seq_len
    if train.max_steps and by_steps < chars:
        chars, length = by_steps, f"{train.max_steps:,} steps"
    return (f"this run ({length}) will take about {format_duration(chars / rate)} here "
            f"at ~{rate:,.0f} chars/s: --time-budget (e.g. 15m) sizes the model to the time "
            "you have instead")


def _size(chars: int) -> str:
    if chars >= 1_000_000:
        return f"{chars / 1e6:.1f} M chars"
    if chars >= 1_000:
        return f"{chars / 1e3:.0f} K chars"
    return f"{chars} chars"
