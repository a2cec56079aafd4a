import json
import math

import keras
import numpy as np
import pytest
from stop_at import InterruptAt

from charkeras.errors import CorpusError, RunDirError, TrainingDiverged
from charkeras.text.id_cache import load_corpus
from charkeras.train.driver import fit
from charkeras.train.run.directory import RunDir


def _weights(model):
    return [np.asarray(v) for v in model.weights]


def test_stopped_and_resumed_run_ends_with_the_same_weights(shakespeare_slice, tiny_config, tmp_path):
    straight, _ = fit(shakespeare_slice, tmp_path / "a", tiny_config, verbose=0)
    # 6000 chars, 20% validation: 4800 train chars -> 4 streams x 1199 -> 74 batches per epoch.
    with pytest.raises(KeyboardInterrupt):
        fit(shakespeare_slice, tmp_path / "b", tiny_config, verbose=0, callbacks=[InterruptAt(91)])
    latest = RunDir(tmp_path / "b").latest_checkpoint()
    assert latest.name == "ckpt-000000091"  # Ctrl-C saved the exact position, mid-epoch 2
    resumed, history = fit(out=tmp_path / "b", resume=True, verbose=0)
    assert len(history["val_loss"]) == 1  # only the second epoch ran
    for a, b in zip(_weights(straight), _weights(resumed)):
        np.testing.assert_array_equal(a, b)  # bit for bit
    # ... and the second epoch's logged loss is its mean over all its steps, as in the unbroken run
    assert (tmp_path / "b" / "log.csv").read_text() == (tmp_path / "a" / "log.csv").read_text()


def test_resume_from_periodic_checkpoint_after_a_hard_kill(shakespeare_slice, tiny_config, tmp_path):
    """A SIGKILL leaves only the periodic checkpoints: resuming from one must still end identically."""
    straight, _ = fit(shakespeare_slice, tmp_path / "a", tiny_config, verbose=0)
    with pytest.raises(KeyboardInterrupt):
        fit(shakespeare_slice, tmp_path / "b", tiny_config, verbose=0, callbacks=[InterruptAt(93)])
    run = RunDir(tmp_path / "b")
    (run.checkpoints / "ckpt-000000093").rename(run.checkpoints / ".killed")  # as if never written
    assert run.latest_checkpoint().name == "ckpt-000000090"
    resumed, _ = fit(out=tmp_path / "b", resume=True, verbose=0)
    for a, b in zip(_weights(straight), _weights(resumed)):
        np.testing.assert_array_equal(a, b)
    assert (tmp_path / "b" / "log.csv").read_text() == (tmp_path / "a" / "log.csv").read_text()


def test_validation_never_disturbs_the_training_state(shakespeare_slice, tiny_config, tmp_path):
    plain, _ = fit(shakespeare_slice, tmp_path / "a", tiny_config.replace(train={"epochs": 1}), verbose=0)
    validated, _ = fit(shakespeare_slice, tmp_path / "b",
                       tiny_config.replace(train={"epochs": 1, "val_every": 3, "sample_every": 7}), verbose=0)
    for a, b in zip(_weights(plain), _weights(validated)):
        np.testing.assert_array_equal(a, b)


def test_the_callbacks_read_the_step_counter_once_per_step(shakespeare_slice, tiny_config, tmp_path,
                                                          monkeypatch):
    """Each read of the optimizer's counter is an eager op: StepCounter reads it once per batch for
    every callback (a small model's step is a few ms, and ~9 callbacks ask). Validations and
    checkpoints read it too, once each."""
    import sys
    import traceback

    from charkeras.train.callbacks import progress

    per_batch = []
    read = progress.current_step

    def counted(model):
        if traceback.extract_stack(limit=2)[0].name == "on_train_batch_end":
            per_batch.append(1)
        return read(model)

    for name, module in list(sys.modules.items()):
        if name.startswith("charkeras.train.callbacks.") and hasattr(module, "current_step"):
            monkeypatch.setattr(module, "current_step", counted)
    # With a time budget (its one epoch ends first), so its callback is among those counted.
    config = tiny_config.replace(train={"epochs": 1, "val_every": 3, "sample_every": 7,
                                        "time_budget": 600.0})
    model, _ = fit(shakespeare_slice, tmp_path / "r", config, verbose=0)
    steps = int(model.optimizer.iterations.numpy())
    assert steps > 20
    assert len(per_batch) == steps


def test_run_directory_contents(shakespeare_slice, tiny_config, tmp_path):
    cfg = tiny_config.replace(train={"sample_every": 30})
    fit(shakespeare_slice, tmp_path / "r", cfg, verbose=0)
    run = RunDir(tmp_path / "r")
    names = [p.name for p in run.list_checkpoints()]
    assert names == ["ckpt-000000145", "ckpt-000000148"]  # keep_checkpoints=2 newest
    best = json.loads((run.best_checkpoint() / "meta.json").read_text())
    log = (tmp_path / "r" / "log.csv").read_text().splitlines()
    assert log[0].split(",") == ["epoch", "step", "bpc", "loss", "lr", "val_bpc", "val_loss"] and len(log) == 3
    assert [row.split(",")[:2] for row in log[1:]] == [["1", "74"], ["2", "148"]]  # epochs from 1, like the console
    val_losses = [float(row.split(",")[-1]) for row in log[1:]]
    assert best["val_loss"] == pytest.approx(min(val_losses))
    samples = [json.loads(line) for line in (tmp_path / "r" / "samples.jsonl").read_text().splitlines()]
    assert [s["step"] for s in samples] == [30, 60, 74, 90, 120, 148]
    assert all(len(s["text"]) == cfg.train.sample_len for s in samples)
    assert (tmp_path / "r" / "tensorboard").is_dir()


def test_exploding_loss_stops_with_a_clear_message(shakespeare_slice, tiny_config, tmp_path):
    cfg = tiny_config.replace(train={"max_loss": 1.0})
    with pytest.raises(TrainingDiverged, match="exploded .* at step 1.*--resume"):
        fit(shakespeare_slice, tmp_path / "r", cfg, verbose=0)


def test_nan_loss_stops_training(shakespeare_slice, tiny_config, tmp_path):
    class Poison(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 3:
                w = self.model.get_layer("logits").kernel
                w.assign(np.full(w.shape, np.nan, np.float32))

    with pytest.raises(TrainingDiverged, match="became nan at step 4"):
        fit(shakespeare_slice, tmp_path / "r", tiny_config, verbose=0, callbacks=[Poison()])


def test_existing_run_is_not_overwritten_without_force(shakespeare_slice, tiny_config, tmp_path):
    cfg = tiny_config.replace(train={"epochs": 1})
    fit(shakespeare_slice, tmp_path / "r", cfg, verbose=0)
    with pytest.raises(RunDirError, match="holds another run: pass --resume .* or --force"):
        fit(shakespeare_slice, tmp_path / "r", cfg, verbose=0)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="not empty"):
        fit(shakespeare_slice, tmp_path / "other", cfg, verbose=0)
    fit(shakespeare_slice, tmp_path / "r", cfg, force=True, verbose=0)


def test_resume_refuses_a_changed_corpus(shakespeare_slice, tiny_config, tmp_path):
    cfg = tiny_config.replace(train={"epochs": 1})
    fit(shakespeare_slice, tmp_path / "r", cfg, verbose=0)
    shakespeare_slice.write_text(shakespeare_slice.read_text().upper())
    with pytest.raises(RunDirError, match="not the corpus this run was trained on"):
        fit(out=tmp_path / "r", resume=True, epochs=2, verbose=0)


def test_resume_can_extend_epochs(shakespeare_slice, tiny_config, tmp_path):
    fit(shakespeare_slice, tmp_path / "r", tiny_config.replace(train={"epochs": 1}), verbose=0)
    model, history = fit(out=tmp_path / "r", resume=True, epochs=2, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 148 and len(history["loss"]) == 1


def test_bad_sizes_leave_nothing_behind(shakespeare_slice, tiny_config, tmp_path):
    cfg = tiny_config.replace(data={"batch_size": 64, "seq_len": 100})
    with pytest.raises(CorpusError, match="largest workable"):
        fit(shakespeare_slice, tmp_path / "r", cfg, verbose=0)
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_learns_more_than_character_frequencies(shakespeare_path, tmp_path):
    """A few hundred steps on 60k characters must beat the unigram entropy of the text."""
    from charkeras.config import CharConfig

    text = shakespeare_path.read_text()[:60_000]
    (tmp_path / "s.txt").write_text(text)
    cfg = CharConfig().replace(
        model={"units": 64, "layers": 1, "embedding_dim": 16, "dropout": 0.0},
        data={"batch_size": 16, "seq_len": 32, "val_frac": 0.1},
        train={"epochs": 3, "learning_rate": 1e-2, "sample_every": 0, "checkpoint_every": 0},
    )
    _, history = fit(tmp_path / "s.txt", tmp_path / "r", cfg, verbose=0)
    counts = np.bincount(load_corpus(tmp_path / "s.txt").ids)
    p = counts[counts > 0] / counts.sum()
    unigram = float(-(p * np.log(p)).sum())
    assert history["val_loss"][-1] < unigram - 0.2, (history["val_loss"], unigram)
    assert history["val_loss"][-1] < history["val_loss"][0]
    assert math.isclose(history["val_bpc"][-1], history["val_loss"][-1] / math.log(2))
