"""Run configuration: frozen dataclasses with validation and a JSON round trip.

Every run directory holds `config.json`; resuming compares the stored config with the requested one,
so the fields here are the single description of a run.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from charkeras.errors import ConfigError, require

LR_SCHEDULES = ("constant", "cosine", "exponential")
OPTIMIZERS = ("adam", "adamw", "rmsprop")
# auto: the fused CPU layer (charkeras/model/fused_lstm.py) without a GPU, keras.layers.LSTM (cuDNN) with one
LSTM_IMPLS = ("auto", "keras", "fused")
# How the fused layer's recurrence holds its states (charkeras/model/lstm_layout.py); auto: timed at the
# start of a run and recorded, so a resumed run keeps it
LSTM_LAYOUTS = ("auto", "feature", "row")
# fit --strategy (charkeras/train/distribution.py): a property of how a run trains now, not of the run
STRATEGIES = ("auto", "one", "mirrored", "multi-worker")
# Training seeds travel as int32 (the samples' stateless seed [seed, step], the dropout seed generators).
SEED_MAX = 2**31 - 1


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the network. `vocab_size` is filled in from the corpus."""

    vocab_size: int = 0
    embedding_dim: int = 64
    units: int = 512
    layers: int = 2
    dropout: float = 0.5
    # Which LSTM kernel trains; all compute the same function with the same weights. Runs whose
    # config.json predates this field load with the default.
    lstm_impl: str = "auto"
    # The fused layer's layout; `fit` replaces auto by the one it timed faster (older runs: auto).
    lstm_layout: str = "auto"

    def validate(self) -> None:
        require(self.embedding_dim >= 1, f"--embedding-dim must be >= 1 (got {self.embedding_dim})")
        require(self.units >= 1, f"--units must be >= 1 (got {self.units})")
        require(self.layers >= 1, f"--layers must be >= 1 (got {self.layers})")
        require(0.0 <= self.dropout < 1.0, f"--dropout must be in [0, 1) (got {self.dropout})")
        require(self.lstm_impl in LSTM_IMPLS,
                 f"--lstm-impl must be one of {', '.join(LSTM_IMPLS)} (got {self.lstm_impl!r})")
        require(self.lstm_layout in LSTM_LAYOUTS,
                 f"--lstm-layout must be one of {', '.join(LSTM_LAYOUTS)} (got {self.lstm_layout!r})")


@dataclass(frozen=True)
class DataConfig:
    batch_size: int = 64
    seq_len: int = 100
    val_frac: float = 0.1
    encoding: str = "utf-8"
    # Validation reads at most this many batches (B x T characters each) from the start of the held-out
    # text, so a 100 MB corpus is not validated on 10 MB every time; 0 = the whole held-out text.
    val_batches: int = 100

    def validate(self) -> None:
        require(self.batch_size >= 1, f"--batch-size must be >= 1 (got {self.batch_size})")
        require(self.seq_len >= 1, f"--seq-len must be >= 1 (got {self.seq_len})")
        require(0.0 < self.val_frac <= 0.5, f"--val-frac must be in (0, 0.5] (got {self.val_frac})")
        require(self.val_batches >= 0, f"--val-batches must be >= 0 (got {self.val_batches}); 0 means all")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 20
    max_steps: int = 0  # stop after this many optimizer steps (0: after `epochs`); the LR schedule fits it
    optimizer: str = "adam"
    learning_rate: float = 2e-3
    # The LR schedule's length in steps, pinned when a resume changes --epochs/--max-steps (0: the steps
    # the run plans): a longer run then holds the final LR, it never jumps (charkeras/train/resuming.py).
    schedule_steps: int = 0
    lr_schedule: str = "cosine"
    min_lr_frac: float = 0.05  # cosine/exponential decay ends at learning_rate * min_lr_frac
    warmup_steps: int = 0
    weight_decay: float = 0.0
    clipnorm: float = 5.0
    seed: int = 1234
    checkpoint_every: int = 500  # steps; a checkpoint is also written at every epoch end
    keep_checkpoints: int = 3
    val_every: int = 0  # steps; 0 = only at epoch end
    sample_every: int = 500  # steps; 0 = only at epoch end
    sample_len: int = 200
    sample_temperature: float = 0.8
    max_loss: float = 20.0  # a training loss above this counts as exploded
    time_budget: float = 0.0  # seconds from the command's start (0: none); fit plans max_steps to fit it
    patience: int = 0  # stop after this many validations without a new best (0: never)

    def validate(self) -> None:
        require(self.epochs >= 1, f"--epochs must be >= 1 (got {self.epochs})")
        require(self.max_steps >= 0, f"--max-steps must be >= 0 (got {self.max_steps}); 0 means no limit")
        require(self.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}")
        require(self.schedule_steps >= 0, f"schedule_steps must be >= 0 (got {self.schedule_steps})")
        require(self.learning_rate > 0, f"--lr must be > 0 (got {self.learning_rate})")
        require(self.lr_schedule in LR_SCHEDULES, f"--lr-schedule must be one of {', '.join(LR_SCHEDULES)}")
        require(0.0 <= self.min_lr_frac <= 1.0, f"min_lr_frac must be in [0, 1] (got {self.min_lr_frac})")
        require(self.warmup_steps >= 0, f"--warmup-steps must be >= 0 (got {self.warmup_steps})")
        require(self.weight_decay >= 0, f"--weight-decay must be >= 0 (got {self.weight_decay})")
        require(self.clipnorm > 0, f"--clipnorm must be > 0 (got {self.clipnorm})")
        require(0 <= self.seed <= SEED_MAX, f"--seed must be in [0, {SEED_MAX}] (got {self.seed})")
        require(self.checkpoint_every >= 0, f"--checkpoint-every must be >= 0 (got {self.checkpoint_every})")
        require(self.keep_checkpoints >= 1, f"--keep-checkpoints must be >= 1 (got {self.keep_checkpoints})")
        require(self.val_every >= 0, f"--val-every must be >= 0 (got {self.val_every})")
        require(self.sample_every >= 0, f"--sample-every must be >= 0 (got {self.sample_every})")
        require(self.sample_len >= 1, f"--sample-len must be >= 1 (got {self.sample_len})")
        require(self.sample_temperature >= 0, "--sample-temperature must be >= 0")
        require(self.max_loss > 0, f"max_loss must be > 0 (got {self.max_loss})")
        require(self.time_budget >= 0, f"--time-budget must be > 0 (got {self.time_budget} s)")
        require(self.patience >= 0, f"--patience must be >= 0 (got {self.patience}); 0 means never stop early")


@dataclass(frozen=True)
class CharConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> CharConfig:
        self.model.validate()
        self.data.validate()
        self.train.validate()
        return self

    def replace(self, **sections) -> CharConfig:
        """Return a copy with whole sections or single fields replaced: replace(model={"units": 8})."""
        updated = {}
        for name, changes in sections.items():
            current = getattr(self, name)
            updated[name] = dataclasses.replace(current, **changes) if isinstance(changes, dict) else changes
        return dataclasses.replace(self, **updated)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> CharConfig:
        sections = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}
        if not isinstance(data, dict):
            raise ConfigError(f"config must be a JSON object of sections {', '.join(sections)}")
        for name, kind in sections.items():
            _check_field_types(name, kind, data.get(name, {}))
        try:
            return cls(**{name: kind(**data.get(name, {})) for name, kind in sections.items()})
        except TypeError as exc:  # unknown or misspelt field in a hand-edited config.json
            raise ConfigError(f"config does not match this charkeras version: {exc}") from None

    @classmethod
    def from_json(cls, text: str) -> CharConfig:
        return cls.from_dict(json.loads(text))


_JSON_TYPES = {"int": ((int,), "an integer"), "float": ((int, float), "a number"), "str": ((str,), "a string")}


def _check_field_types(name: str, kind, values) -> None:
    """A stored section's values have their field's JSON type (a hand-edited "units": "512" is refused
    here, not by a TypeError deep in training)."""
    if not isinstance(values, dict):
        raise ConfigError(f"config section {name} must be an object (got {type(values).__name__})")
    types = {f.name: _JSON_TYPES.get(f.type) for f in dataclasses.fields(kind)}
    for key, value in values.items():
        expected, description = types.get(key) or (None, "")
        if expected and (isinstance(value, bool) or not isinstance(value, expected)):
            raise ConfigError(f"config {name}.{key} must be {description} (got {value!r})")
