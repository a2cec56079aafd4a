"""How many steps a run takes: epochs, --max-steps, the fit segments; --time-budget (durations, the
plan, re-planning with a fake clock, the anchored schedule and its exact resume); the clock cadence."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import SHAKESPEARE

from charkeras.config import CharConfig, TrainConfig
from charkeras.errors import ConfigError
from charkeras.train.callbacks.cadence import MAX_INTERVAL, Cadence, validation_cadence
from charkeras.train.planning import (
    UNLIMITED_EPOCHS,
    Cadences,
    FitSegment,
    WorkCosts,
    check_planned_steps,
    fit_segments,
    format_duration,
    parse_duration,
    plan_steps,
    planned_steps,
)

# --- steps and segments ---------------------------------------------------------------------------

def _steps(segments):
    """The global steps the segments run, in order."""
    return [e * 10 + b for s in segments for e in range(s.first_epoch, s.end_epoch)
            for b in range(s.skip, s.skip + s.take)]


@pytest.mark.parametrize("start,total", [(0, 30), (0, 25), (13, 30), (13, 17), (13, 25), (20, 25), (0, 7),
                                         (29, 30)])
def test_segments_run_every_step_once_in_order(start, total):
    assert _steps(fit_segments(start, total, batches=10)) == list(range(start, total))


def test_whole_epochs_are_one_fit_call():
    assert fit_segments(0, 30, 10) == [FitSegment(0, 3, 0, 10)]
    assert fit_segments(30, 30, 10) == []


def test_max_steps_caps_the_epochs():
    assert planned_steps(TrainConfig(epochs=3), 10) == 30
    assert planned_steps(TrainConfig(epochs=3, max_steps=12), 10) == 12
    assert planned_steps(TrainConfig(epochs=3, max_steps=99), 10) == 30


def test_a_run_of_more_steps_than_the_step_counter_holds_is_refused():
    # Each option in range, their product not: refused before the run is made. --max-steps caps it,
    # and a time budget plans its own steps.
    check_planned_steps(TrainConfig(epochs=2**31 - 1), 1)
    with pytest.raises(ConfigError, match=r"^--epochs 1,073,741,824 x 2 batches per epoch is "
                                          r"2,147,483,648 steps, more than the 2,147,483,647"):
        check_planned_steps(TrainConfig(epochs=2**30), 2)
    check_planned_steps(TrainConfig(epochs=2**30, max_steps=100), 2)
    check_planned_steps(TrainConfig(epochs=2**30, time_budget=600), 2)


# --- durations -------------------------------------------------------------------------------------

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


# --- the plan --------------------------------------------------------------------------------------

def test_plan_charges_the_measured_work_and_keeps_the_final_work_in_reserve():
    costs = WorkCosts(validation=0.6, sample=0.2, checkpoint=0.3, report=0.5, per_step=0.01)
    plan = plan_steps(seconds_left=300, step_seconds=0.05, now_step=20, costs=costs,
                      cadences=Cadences(batches=30, checkpoint_every=100))
    final = 0.6 + 0.2 + 0.3 + 0.5 + 0.01
    per_step = 0.05 + 0.01 + final / 30 + 0.3 / 100  # epoch ends and periodic checkpoints
    assert plan.per_step_seconds == pytest.approx(per_step)
    assert plan.reserve_seconds == pytest.approx(final + 1.0)  # and the exit
    assert plan.total_steps == 20 + int((300 - final - 1.0) / per_step)


def test_work_on_a_clock_takes_its_share_of_the_time():
    costs = WorkCosts(validation=1.0)
    alone = plan_steps(seconds_left=600, step_seconds=0.1, now_step=0, costs=costs,
                       cadences=Cadences(batches=10**6))
    shared = plan_steps(seconds_left=600, step_seconds=0.1, now_step=0, costs=costs,
                        cadences=Cadences(batches=10**6, clock_share=0.05))
    assert shared.total_steps == pytest.approx(alone.total_steps * 0.95, abs=2)


def test_plan_respects_a_smaller_step_limit():
    plan = plan_steps(seconds_left=3600, step_seconds=0.05, now_step=20, costs=WorkCosts(0.1),
                      cadences=Cadences(batches=30), limit_steps=600)
    assert plan.total_steps == 600 and plan.limited_by == "epochs"


def test_a_budget_already_spent_still_plans_one_more_step():
    plan = plan_steps(seconds_left=-5, step_seconds=1.0, now_step=7, costs=WorkCosts(0.1),
                      cadences=Cadences(batches=30))
    assert plan.total_steps == 8


# --- the clock cadence ----------------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_validation_by_the_clock_every_5_percent_of_the_budget_at_most_2_minutes():
    assert validation_cadence(0, 600).seconds == 30
    assert validation_cadence(0, 3600).seconds == MAX_INTERVAL
    assert validation_cadence(0, 0).seconds == MAX_INTERVAL  # no budget
    assert not validation_cadence(25, 600).by_time  # --val-every given: by steps


def test_a_clock_cadence_is_due_after_its_interval_and_keeps_its_work_under_5_percent():
    clock = FakeClock()
    cadence = Cadence(0, 30.0, clock)
    cadence.start()
    clock.t = 29.0
    assert not cadence.due(step=7, batches=1000)
    clock.t = 30.0
    assert cadence.due(step=8, batches=1000) and not cadence.due(step=1000, batches=1000)  # epoch end
    cadence.done(spent=3.0)  # a slow validation: now at most 5% of the time
    assert cadence.interval == 60.0
    clock.t = 30.0 + 59.0
    assert not cadence.due(9, 1000)


def test_a_step_cadence_ignores_the_clock():
    clock = FakeClock()
    cadence = Cadence(25, 30.0, clock)
    clock.t = 1000.0
    assert not cadence.due(24, 1000) and cadence.due(25, 1000) and not cadence.due(1000, 1000)


# --- re-planning, driven with a fake clock ---------------------------------------------------------

def _budget_run(tmp_path, step_seconds_at, budget=300.0, validate_every=None):
    """Drive TimeBudget like model.fit would, each step taking step_seconds_at(step) on a fake clock;
    returns (callback, optimizer, clock time at the stop, learning rates per step)."""
    from charkeras.data.streams import StreamLayout
    from charkeras.train.callbacks.budget import TimeBudget
    from charkeras.train.callbacks.progress import TrainingProgress
    from charkeras.train.optimizers import make_optimizer

    clock = FakeClock()
    config = CharConfig().replace(train={"epochs": UNLIMITED_EPOCHS, "time_budget": budget})
    layout = StreamLayout(64, 100, 10**8, 10**6)  # one long epoch
    progress = TrainingProgress(run=SimpleNamespace(path=tmp_path), config=config, layout=layout, verbose=0)
    optimizer = make_optimizer(config.train, planned_steps(config.train, layout.batches))
    budget_cb = TimeBudget(progress, deadline=budget, budget=budget, optimizer=optimizer, val_batches=4,
                           start_step=0, announce=lambda line: None, clock=clock)
    model = SimpleNamespace(optimizer=optimizer, variables=[], stop_training=False)
    budget_cb.set_model(model)
    lrs = []
    while not model.stop_training:
        budget_cb.on_train_batch_begin(0)
        step = int(optimizer.iterations.numpy())
        lrs.append(float(optimizer.learning_rate))
        clock.t += step_seconds_at(step)
        optimizer.iterations.assign_add(1)
        progress.step = int(optimizer.iterations.numpy())  # as StepCounter, first in fit's list, does
        budget_cb.on_train_batch_end(0)
        if validate_every and (step + 1) % validate_every == 0:  # work between steps, timed
            progress.work.record("validation", 2.0)
            clock.t += 2.0
    return budget_cb, optimizer, clock.t, lrs


def test_steps_that_get_faster_extend_the_plan_and_the_run_ends_at_the_budget(tmp_path):
    cb, _, ended, _ = _budget_run(tmp_path, lambda step: 0.2 if step < 200 else 0.1)
    totals = [cb.plan.total_steps]
    assert cb.plans > 5 and totals[0] > 1500  # the last plan counted the faster steps
    final = cb.costs(cb.step_seconds()).final() + 1.0
    assert 300 * 0.98 <= ended + final <= 300  # within 2% of the budget, never over
    stored = json.loads((tmp_path / "config.json").read_text())["train"]
    assert stored["max_steps"] == cb.plan.total_steps


def test_steps_that_get_slower_cut_the_plan(tmp_path):
    cb, _, ended, _ = _budget_run(tmp_path, lambda step: 0.1 if step < 300 else 0.3)
    assert cb.plan.total_steps < 300 / 0.1
    final = cb.costs(cb.step_seconds()).final() + 1.0
    assert 300 * 0.95 <= ended + final <= 300


def test_a_run_stopped_short_of_its_plan_records_where_it_ended(tmp_path):
    """Steps that slow down tenfold near the end, between two plans: the guard stops the run before
    the planned step, and config.json records the step it ended at (a resume has nothing left)."""
    cb, optimizer, ended, _ = _budget_run(tmp_path, lambda step: 0.1 if step < 2700 else 1.0)
    assert cb.stopped_early
    stopped = int(optimizer.iterations.numpy())
    assert stopped < cb.plan.total_steps
    stored = json.loads((tmp_path / "config.json").read_text())["train"]
    assert stored["max_steps"] == stopped
    assert ended <= 300


def test_work_between_steps_is_charged_not_counted_as_step_time(tmp_path):
    cb, _, ended, _ = _budget_run(tmp_path, lambda step: 0.1, validate_every=100)
    assert cb.step_seconds() == pytest.approx(0.1)
    final = cb.costs(cb.step_seconds()).final() + 1.0
    assert 300 * 0.95 <= ended + final <= 300


def test_the_schedule_stays_continuous_across_re_plans(tmp_path):
    _, _, _, lrs = _budget_run(tmp_path, lambda step: 0.2 if step < 400 else 0.1)
    steps = np.diff(lrs)
    peak = TrainConfig().learning_rate
    assert np.all(steps <= 1e-9)  # the cosine only goes down
    assert np.max(np.abs(steps)) < 0.01 * peak  # no jump at a re-plan
    assert lrs[-1] == pytest.approx(peak * TrainConfig().min_lr_frac, rel=0.05)  # it reached its floor


def test_replan_keeps_the_progress_and_spreads_the_rest():
    from charkeras.train.optimizers import make_optimizer, replan, schedule_total

    optimizer = make_optimizer(TrainConfig(), total_steps=100)
    schedule = optimizer._learning_rate
    before = float(schedule(40))
    replan(optimizer, 40, 400)
    assert float(schedule(40)) == pytest.approx(before, rel=1e-6)
    assert schedule_total(optimizer) == 400
    assert float(schedule(400)) == pytest.approx(TrainConfig().learning_rate * TrainConfig().min_lr_frac)
    assert float(schedule(220)) > float(schedule(400))


def test_a_checkpoint_restores_the_schedule_in_force(tmp_path):
    import keras

    from charkeras.train.optimizers import make_optimizer, replan
    from charkeras.train.run.checkpoints import CheckpointMeta, load_checkpoint, save_checkpoint

    def built(total):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")], name="m")
        optimizer = make_optimizer(TrainConfig(), total_steps=total)
        optimizer.build(model.trainable_variables)
        return model, optimizer

    model, optimizer = built(10**6)  # a budget run before its plan
    optimizer.iterations.assign(50)
    replan(optimizer, 50, 300)
    replan(optimizer, 120, 500)  # the plan in force at the checkpoint
    save_checkpoint(tmp_path / "ckpt", model, optimizer, [], CheckpointMeta(120, None, 0.0), CharConfig())
    resumed_model, resumed = built(10**6)
    load_checkpoint(tmp_path / "ckpt", resumed_model, resumed)
    for step in (120, 121, 300, 499, 500):
        assert float(resumed._learning_rate(step)) == float(optimizer._learning_rate(step))


# --- whole runs ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_fit_stops_mid_epoch_at_max_steps_with_the_schedule_fitted(shakespeare_slice, tiny_config, tmp_path):
    """74 batches per epoch (see test_train.py); 100 steps end 26 batches into epoch 2, where the
    cosine schedule reaches its floor, and the last checkpoint is at step 100."""
    from charkeras.train.driver import fit
    from charkeras.train.run.directory import RunDir

    config = tiny_config.replace(train={"epochs": 5, "max_steps": 100})
    model, history = fit(shakespeare_slice, tmp_path / "run", config, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 100
    assert RunDir(tmp_path / "run").latest_checkpoint().name == "ckpt-000000100"
    assert len(history["val_loss"]) == 2  # epoch 1, then the cut-short epoch 2
    cfg = config.train
    np.testing.assert_allclose(float(np.asarray(model.optimizer.learning_rate)),
                               cfg.learning_rate * cfg.min_lr_frac, rtol=1e-4)


@pytest.mark.slow
def test_budget_run_plans_stops_and_records_the_plan(tiny_config, tmp_path):
    import time

    from charkeras.train.driver import fit
    from charkeras.train.run.directory import RunDir
    from charkeras.train.run.names import VALIDATIONS_FILE

    # Epochs of a few seconds, longer than the clock's validation interval (5% of the budget: 1.25 s).
    corpus = tmp_path / "longer.txt"
    corpus.write_text(SHAKESPEARE.read_text(encoding="utf-8")[:60_000], encoding="utf-8")
    config = tiny_config.replace(train={"epochs": UNLIMITED_EPOCHS, "time_budget": 25.0})
    began = time.monotonic()
    model, history = fit(corpus, tmp_path / "r", config, verbose=0, started=began)
    took = time.monotonic() - began
    stored = json.loads((tmp_path / "r" / "config.json").read_text())["train"]
    assert stored["max_steps"] == int(model.optimizer.iterations.numpy())
    assert 25 * 0.9 < took < 25 + 3, took  # a loaded machine: some slack in a test
    latest = RunDir(tmp_path / "r").latest_checkpoint()
    assert int(latest.name.split("-")[1]) == stored["max_steps"]
    rows = (tmp_path / "r" / VALIDATIONS_FILE).read_text().splitlines()[1:]
    assert len(rows) > len(history["val_loss"])  # validations between the epoch ends, by the clock


@pytest.mark.slow
def test_patience_stops_after_n_validations_without_improvement(shakespeare_slice, tiny_config, tmp_path):
    from charkeras.train.driver import fit

    # A learning rate that makes the loss diverge upward slowly: patience 1 stops at the first
    # validation that is not a new best.
    config = tiny_config.replace(train={"epochs": 30, "patience": 1, "learning_rate": 0.5, "clipnorm": 50.0,
                                        "max_loss": 1e9})
    _, history = fit(shakespeare_slice, tmp_path / "r", config, verbose=0)
    losses = history["val_loss"]
    assert len(losses) < 30
    assert losses[-1] >= min(losses[:-1])  # the last validation did not improve on the best before it


@pytest.mark.parametrize("checkpoint_step, resumed_total", [(2000, 2950), (2945, 2945)])
def test_a_resume_follows_the_checkpoints_plan_unless_the_run_had_ended(tmp_path, checkpoint_step,
                                                                          resumed_total):
    """config.json records 2,945 steps; the checkpoint's schedule ends at 2,950. From a checkpoint
    mid-run the schedule decides (config.json may hold a later plan); from the checkpoint at 2,945 the
    budget had stopped the run there, and it stays finished."""
    from charkeras.train.driver import follow_checkpoint_plan
    from charkeras.train.optimizers import make_optimizer, replan

    config = CharConfig().replace(train={"time_budget": 60.0, "max_steps": 2945, "epochs": 40})
    optimizer = make_optimizer(config.train, total_steps=10**6)
    replan(optimizer, 100, 2950)
    opened = SimpleNamespace(config=config, stored_config=config, total_steps=2945,
                             layout=SimpleNamespace(batches=74), run=SimpleNamespace(path=tmp_path))
    follow_checkpoint_plan(opened, optimizer, checkpoint_step)
    assert opened.config.train.max_steps == resumed_total


def test_new_epochs_on_resume_replace_a_time_budgets_planned_steps():
    """A budget's plan wrote max_steps; `--resume --epochs N` alone must train to N epochs, not stop
    at the old plan (and must not plan a new budget: max_steps is set)."""
    from charkeras.train.run.resuming import resumed_config

    stored = CharConfig().replace(train={"time_budget": 60.0, "epochs": 3, "max_steps": 150})
    resumed = resumed_config(stored, {"epochs": 5}, batches=74)
    assert planned_steps(resumed.train, 74) == 5 * 74
    both = resumed_config(stored, {"epochs": 5, "max_steps": 200}, batches=74)
    assert planned_steps(both.train, 74) == 200  # --max-steps given too: it decides
    plain = CharConfig().replace(train={"epochs": 3, "max_steps": 150})
    assert planned_steps(resumed_config(plain, {"epochs": 5}, batches=74).train, 74) == 150
