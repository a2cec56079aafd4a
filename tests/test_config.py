import re

import pytest

from charkeras.config import CharConfig, TrainConfig, flag_of
from charkeras.errors import ConfigError


def test_json_round_trip_keeps_every_field():
    cfg = CharConfig().replace(model={"units": 7, "dropout": 0.25}, train={"lr_schedule": "exponential"})
    assert CharConfig.from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize("section, changes, flag", [
    ("model", {"units": -1}, "--units"),
    ("model", {"layers": 0}, "--layers"),
    ("model", {"dropout": 1.0}, "--dropout"),
    ("model", {"embedding_dim": 0}, "--embedding-dim"),
    ("data", {"batch_size": 0}, "--batch-size"),
    ("data", {"seq_len": -5}, "--seq-len"),
    ("data", {"val_frac": 0.0}, "--val-frac"),
    ("data", {"val_frac": 0.6}, "--val-frac"),
    ("train", {"epochs": 0}, "--epochs"),
    ("train", {"learning_rate": 0.0}, "--lr"),
    ("train", {"lr_schedule": "linear"}, "--lr-schedule"),
    ("train", {"clipnorm": 0.0}, "--clipnorm"),
])
def test_nonsensical_values_name_the_option(section, changes, flag):
    with pytest.raises(ConfigError, match=flag):
        CharConfig().replace(**{section: changes}).validate()


def test_unknown_field_in_config_file_is_a_clear_error():
    with pytest.raises(ConfigError, match="does not match"):
        CharConfig.from_dict({"model": {"unitz": 3}})


@pytest.mark.parametrize("section, values, message", [
    ("model", {"units": 10**12}, "--units must be in [1, 8192]"),  # passed the schema, then generate crashed
    ("model", {"layers": 10**6}, "--layers must be in [1, 32]"),
    ("model", {"embedding_dim": 10**9}, "--embedding-dim must be in [1, 8192]"),
    ("model", {"vocab_size": 10**9}, "vocab_size must be in [0, 1114114]"),
    ("train", {"learning_rate": 10**400}, "--lr must be a finite number"),  # an int too large for a float
    ("train", {"schedule_steps": 2**31}, "schedule_steps must be <= 2147483647"),
    ("train", {"time_budget": 1e9}, "--time-budget must be at most a year"),
    ("data", {"val_batches": 2**40}, "--val-batches must be <= 2147483647"),
])
def test_a_stored_config_beyond_the_stated_maxima_is_refused_naming_the_limit(section, values, message):
    data = CharConfig().to_dict()
    data[section].update(values)
    with pytest.raises(ConfigError, match=re.escape(message)):
        CharConfig.from_dict(data).validate()


def test_fit_options_and_the_resumable_list_come_from_the_fields():
    from charkeras_cli.fit_command import fit

    from charkeras.config import RESUMABLE, option_fields

    flags = {opt for param in fit.params for opt in param.opts}
    fields = option_fields()
    assert len(fields) >= 28 and all(flag_of(item) in flags for _, item, _ in fields)
    lr = next(param for param in fit.params if "--lr" in param.opts)
    assert lr.default == TrainConfig().learning_rate and lr.name == "learning_rate"
    assert list(RESUMABLE.values())[:5] == ["--epochs", "--max-steps", "--lr", "--weight-decay", "--clipnorm"]
    assert all(option.resumable == (item.name in RESUMABLE) for _, item, option in fields)
