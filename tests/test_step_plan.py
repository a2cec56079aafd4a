import numpy as np
import pytest

from charkeras.config import TrainConfig
from charkeras.train.step_plan import FitSegment, fit_segments, planned_steps


def _steps(segments):
    """The global steps the segments run, in order."""
    return [e * 10 + b for s in segments for e in range(s.first_epoch, s.end_epoch)
            for b in range(s.skip, s.skip + s.take)]


@pytest.mark.parametrize("start,total", [(0, 30), (0, 25), (13, 30), (13, 17), (13, 25), (20, 25), (0, 7), (29, 30)])
def test_segments_run_every_step_once_in_order(start, total):
    assert _steps(fit_segments(start, total, batches=10)) == list(range(start, total))


def test_whole_epochs_are_one_fit_call():
    assert fit_segments(0, 30, 10) == [FitSegment(0, 3, 0, 10)]
    assert fit_segments(30, 30, 10) == []


def test_max_steps_caps_the_epochs():
    assert planned_steps(TrainConfig(epochs=3), 10) == 30
    assert planned_steps(TrainConfig(epochs=3, max_steps=12), 10) == 12
    assert planned_steps(TrainConfig(epochs=3, max_steps=99), 10) == 30


@pytest.mark.slow
def test_fit_stops_mid_epoch_at_max_steps_with_the_schedule_fitted(shakespeare_slice, tiny_config, tmp_path):
    """74 batches per epoch (see test_train.py); 100 steps end 26 batches into epoch 2, where the
    cosine schedule reaches its floor, and the last checkpoint is at step 100."""
    from charkeras.train.driver import fit
    from charkeras.train.run_dir import RunDir

    config = tiny_config.replace(train={"epochs": 5, "max_steps": 100})
    model, history = fit(shakespeare_slice, tmp_path / "run", config, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 100
    assert RunDir(tmp_path / "run").latest_checkpoint().name == "ckpt-000000100"
    assert len(history["val_loss"]) == 2  # epoch 1, then the cut-short epoch 2
    cfg = config.train
    np.testing.assert_allclose(float(np.asarray(model.optimizer.learning_rate)),
                               cfg.learning_rate * cfg.min_lr_frac, rtol=1e-4)
