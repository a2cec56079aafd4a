"""The report's step axis: steps.csv and validations.csv written during training, read back robustly."""

import csv
import re

import pytest
from stop_at import SignalAt

from charkeras.train.run.report_curves import curves_png, read_curves, read_rows, smooth


def test_rows_by_step_last_wins_and_bad_lines_are_skipped(tmp_path):
    path = tmp_path / "validations.csv"
    path.write_text("step,epoch,val_loss,val_bpc,time\n10,1,2.5,3.6,0\n20,1,2.4,3.5,0\n"
                    "step,epoch,val_loss,val_bpc,time\n20,1,2.3,3.3,0\n30,1,nan,nan,0\n40,1")
    rows = read_rows(path, ("val_loss",))
    # a repeated header (appended log), a NaN and a torn last line are skipped; step 20's last row wins
    assert [(r["step"], r["val_loss"]) for r in rows] == [(10, 2.5), (20, 2.3)]
    assert read_rows(tmp_path / "missing.csv", ("val_loss",)) == []


def test_smoothing_keeps_a_constant_and_starts_at_the_first_value():
    assert smooth([2.0] * 5) == pytest.approx([2.0] * 5)
    assert smooth([3.0, 1.0])[0] == pytest.approx(3.0)


def test_nothing_to_draw_is_none():
    assert curves_png([], []) is None


@pytest.mark.slow
def test_training_records_every_validation_and_the_loss_on_a_step_axis(shakespeare_slice, tiny_config, tmp_path):
    from charkeras.train.driver import fit
    from charkeras.train.run.report import write_report

    config = tiny_config.replace(train={"epochs": 1, "val_every": 20})
    fit(shakespeare_slice, tmp_path / "r", config, verbose=0)  # 74 steps per epoch
    steps, validations = read_curves(tmp_path / "r")
    assert [r["step"] for r in validations] == [20, 40, 60, 74]  # --val-every and the epoch end
    assert [r["step"] for r in steps] == [10, 20, 30, 40, 50, 60, 70]
    assert all(0 < r["loss"] < 6 and r["lr"] > 0 for r in steps)
    with open(tmp_path / "r" / "validations.csv", newline="") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["1"] * 4  # epochs from 1, like the console
    assert curves_png(steps, validations).startswith(b"\x89PNG")
    write_report(tmp_path / "r")
    assert (tmp_path / "r" / "loss.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_a_budget_run_stopped_before_its_first_epoch_end_then_resumed_has_its_curves_and_step(
        shakespeare_slice, tiny_config, tmp_path):
    """A time-budget run starts with unlimited epochs (the CLI's UNLIMITED_EPOCHS) until its plan: the
    training curve must not thin out to the planned total, the validations on a step cadence must be
    recorded, and the report must state the step reached, stopped mid-epoch and after a resume."""
    from charkeras.train.driver import fit
    from charkeras.train.interrupts import Interrupted
    from charkeras.train.planning import UNLIMITED_EPOCHS
    from charkeras.train.run.directory import RunDir
    from charkeras.train.run.report import write_report

    run = tmp_path / "r"
    config = tiny_config.replace(train={"epochs": UNLIMITED_EPOCHS, "time_budget": 3600, "val_every": 25})
    with pytest.raises(Interrupted):
        fit(shakespeare_slice, run, config, verbose=0, callbacks=[SignalAt(30)])  # 74 steps per epoch
    steps, validations = read_curves(run)
    assert [r["step"] for r in steps] == [10, 20, 30]
    assert [r["step"] for r in validations] == [25]
    page = write_report(run).read_text(encoding="utf-8")
    # the stop comes after the step the signal arrived in: the checkpoint and the page say step 31
    assert RunDir(run).latest_checkpoint().name == "ckpt-000000031"
    # planned (step 31 of P) when the first 2 s of steps were timed by then, else said to be not yet
    assert re.search(r"step 31 (of [\d,]+ \(epoch 1 of|\(the time budget plans the total)", page)
    assert "no epoch finished yet" in page

    fit(out=run, resume=True, changes={"max_steps": 60}, verbose=0)
    steps, validations = read_curves(run)
    assert [r["step"] for r in steps] == [10, 20, 30, 40, 50, 60]
    assert [r["step"] for r in validations] == [25, 50, 60]  # the stop at step 60 validates
    page = write_report(run).read_text(encoding="utf-8")
    assert "step 60 of 60 (epoch 1 of 1)" in page
