"""--time-budget (durations, the plan, the callback's stop) and --patience."""

import json

import pytest

from charkeras.errors import ConfigError
from charkeras.train.time_budget import format_duration, parse_duration, plan_steps


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("15m", 900), ("2h", 7200), ("1h30m", 5400),
                                           ("1.5h", 5400), ("15", 900), (" 5m ", 300)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "5x", "0m", "m5", "-5m", "5m x"])
def test_bad_durations_say_what_to_pass(text):
    with pytest.raises(ConfigError, match="--time-budget must be"):
        parse_duration(text)


def test_format_duration():
    assert [format_duration(s) for s in (5, 90, 3600 + 120)] == ["5s", "1m30s", "1h02m"]


def test_plan_fits_the_steps_and_their_overheads_into_the_time_left():
    plan = plan_steps(seconds_left=300, step_seconds=0.05, now_step=20, batches=30, val_batches=3)
    # every step, plus one validation (3 batches at 0.4 of a step) and 0.25 s per 30-step epoch
    per_step = 0.05 + (3 * 0.05 * 0.4 + 0.15) / 30
    assert plan.per_step_seconds == pytest.approx(per_step)
    expected_seconds = (plan.total_steps - 20) * per_step
    assert 0.85 * 300 < expected_seconds < 300 and plan.limited_by == "budget"


def test_a_measured_validation_replaces_the_estimate():
    plan = plan_steps(seconds_left=300, step_seconds=0.05, now_step=20, batches=30, val_batches=3,
                      val_seconds=0.6, val_every=60)
    assert plan.per_step_seconds == pytest.approx(0.05 + (0.6 + 0.15) / 30 + 0.6 / 60)


def test_plan_respects_a_smaller_step_limit():
    plan = plan_steps(seconds_left=3600, step_seconds=0.05, now_step=20, batches=30, val_batches=3,
                      limit_steps=600)
    assert plan.total_steps == 600 and plan.limited_by == "epochs"


def test_a_budget_already_spent_still_plans_one_more_step():
    plan = plan_steps(seconds_left=-5, step_seconds=1.0, now_step=7, batches=30, val_batches=3)
    assert plan.total_steps == 8


@pytest.mark.slow
def test_budget_run_plans_stops_and_records_the_plan(shakespeare_slice, tiny_config, tmp_path):
    from charkeras.train.driver import fit
    from charkeras.train.run_dir import RunDir

    config = tiny_config.replace(train={"epochs": 1000, "time_budget": 25.0})
    lines = []
    import builtins
    real_print = builtins.print
    builtins.print = lambda *a, **k: lines.append(" ".join(map(str, a)))
    try:
        import time
        began = time.monotonic()
        _, history = fit(shakespeare_slice, tmp_path / "r", config, verbose=0, started=began)
        took = time.monotonic() - began
    finally:
        builtins.print = real_print
    stored = json.loads((tmp_path / "r" / "config.json").read_text())["train"]
    assert stored["max_steps"] > 0 and stored["epochs"] < 1000
    assert took < 25 + 5, took
    latest = RunDir(tmp_path / "r").latest_checkpoint()
    assert int(latest.name.split("-")[1]) <= stored["max_steps"]
    assert len(history["val_loss"]) >= 1


@pytest.mark.slow
def test_patience_stops_after_n_validations_without_improvement(shakespeare_slice, tiny_config, tmp_path):
    from charkeras.train.driver import fit

    # A learning rate so small the loss cannot improve in the 4th decimal... is not guaranteed, so use a
    # rate that makes it diverge upward slowly instead: plain SGD-like noise is not needed, patience 1
    # stops at the first validation that is not a new best.
    config = tiny_config.replace(train={"epochs": 30, "patience": 1, "learning_rate": 0.5, "clipnorm": 50.0,
                                        "max_loss": 1e9})
    _, history = fit(shakespeare_slice, tmp_path / "r", config, verbose=0)
    losses = history["val_loss"]
    assert len(losses) < 30
    assert losses[-1] >= min(losses[:-1])  # the last validation did not improve on the best before it
