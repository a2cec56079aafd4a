"""A run directory nobody can corrupt: the lock, --force only on charkeras's own runs, durable atomic
writes, stale temporaries, `best` across kills, unreadable checkpoints, SIGTERM, and what a resume may
change (--epochs never raises the learning rate; --lr, --clipnorm, --weight-decay on request)."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from charkeras_cli.main import main
from click.testing import CliRunner
from stop_at import SignalAt

from charkeras import atomic
from charkeras.errors import RunDirError
from charkeras.text.vocabulary import Vocabulary
from charkeras.train.driver import fit
from charkeras.train.interrupts import Interrupted
from charkeras.train.run import names
from charkeras.train.run.directory import RunDir
from charkeras.train.run.lock import RunLock, check_not_locked
from charkeras.train.run.logs import rewind_logs
from charkeras.train.run.names import MARKER_FILE, VALIDATIONS_FILE
from charkeras.train.run.report_curves import read_rows


def _invoke(*args):
    return CliRunner().invoke(main, list(map(str, args)))


def _weights(model):
    return [np.asarray(v) for v in model.weights]


def _log(run_path) -> list[dict]:
    import csv

    with open(run_path / "log.csv", newline="") as f:
        return list(csv.DictReader(f))


# --- the lock ---------------------------------------------------------------------------------------

HOLD_LOCK = """
import sys, time
from charkeras.train.run.lock import RunLock
RunLock(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(120)
"""


def test_a_run_in_use_is_refused_and_a_crash_frees_it(shakespeare_slice, tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / MARKER_FILE).write_text('{"format_version": 1}')
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        for args in (["fit", "--resume", run], ["fit", shakespeare_slice, "--out", run, "--force"],
                     ["fit", shakespeare_slice, "--out", run]):
            result = _invoke(*args)
            assert result.exit_code == 2 and "in use by another charkeras process (pid" in result.output, result.output
        with pytest.raises(RunDirError, match="in use"):
            RunLock(run).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)  # a crash: the OS drops the lock
        holder.wait(timeout=30)
    check_not_locked(run)
    RunLock(run).acquire().release()


# --- --force and the marker ------------------------------------------------------------------------

def test_force_never_deletes_what_charkeras_did_not_write(shakespeare_slice, tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "config.json").write_text('{"mine": true}')
    (foreign / "log.csv").write_text("my,own,log\n")
    result = _invoke("fit", shakespeare_slice, "--out", foreign, "--force")
    assert result.exit_code == 2 and "holds no charkeras run" in result.output, result.output
    assert (foreign / "config.json").read_text() == '{"mine": true}' and (foreign / "log.csv").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    result = _invoke("fit", shakespeare_slice, "--out", other, "--force")
    assert result.exit_code == 2 and "holds no charkeras run" in result.output
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def _written(root) -> dict[str, bytes | None]:
    """Every file and directory under `root`: relative path -> contents (None for a directory)."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


@pytest.mark.slow
def test_force_removes_everything_a_run_wrote_and_nothing_else(shakespeare_slice, tiny_config, tmp_path):
    """A full run (checkpoints and best, every log, samples, TensorBoard, the report and its plot, a
    resume's unreadable checkpoint set aside) writes only what `names` lists; --force removes all of it
    and keeps the user's own files, so the new run's logs and report hold nothing of the old run."""
    run = tmp_path / "r"
    cfg = tiny_config.replace(train={"epochs": 1, "val_every": 20, "sample_every": 30})
    fit(shakespeare_slice, run, cfg, verbose=0)
    newest = RunDir(run).latest_checkpoint()
    (newest / names.VARIABLES_FILE).unlink()  # a hard link of best's: replace it, not truncate it
    (newest / names.VARIABLES_FILE).write_bytes(b"")  # a resume sets it aside as unreadable
    fit(out=run, resume=True, verbose=0)
    old = _written(run)
    top = {name.split(os.sep)[0] for name in old}
    assert top == {*names.RUN_ENTRIES, MARKER_FILE, names.LOCK_FILE}, top  # the run wrote all of them
    assert any(names.UNREADABLE_PREFIX in name for name in old)
    (run / "notes.txt").write_text("mine")
    (run / "mine").mkdir()
    (run / "mine" / names.LOG_FILE).write_text("my own log")

    lock = RunLock(run).acquire()
    try:
        RunDir(run).prepare_new(force=True)
    finally:
        lock.release()
    left = _written(run)
    assert sorted(left) == sorted([MARKER_FILE, names.LOCK_FILE, "notes.txt", "mine",
                                   os.path.join("mine", names.LOG_FILE)])
    assert left["notes.txt"] == b"mine" and left[os.path.join("mine", names.LOG_FILE)] == b"my own log"

    fit(shakespeare_slice, run, cfg.replace(train={"seed": 7, "val_every": 0}), force=True, verbose=0)
    assert json.loads((run / names.CONFIG_FILE).read_text())["train"]["seed"] == 7
    assert [r["step"] for r in read_rows(run / VALIDATIONS_FILE, ("val_loss",))] == [74]  # only the new run's
    with open(run / names.STEPS_FILE, newline="") as f:
        steps = [int(row["step"]) for row in csv.DictReader(f)]
    assert steps == list(range(10, 74, 10))  # each step once: no old rows appended to
    assert (run / "notes.txt").read_text() == "mine"


def test_a_run_without_the_marker_is_not_resumed(shakespeare_slice, tiny_config, tmp_path):
    run = tmp_path / "r"
    RunDir(run).write_run_files(tiny_config, Vocabulary.from_text("ab"), {"source": "x", "sha256": "0"})
    (run / names.CHECKPOINTS_DIR).mkdir()
    with pytest.raises(RunDirError, match=f"not a charkeras run \\(no {MARKER_FILE} marker\\)"):
        fit(out=run, resume=True, verbose=0)


def test_a_marker_without_its_format_version_is_refused(tmp_path, tiny_config):
    # Every versioned file is written with its format_version; one without it was not written by
    # charkeras (no release ever wrote one), so it is refused rather than read as version 1.
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    (run.path / MARKER_FILE).write_text('{"charkeras_version": "0.1.0"}')
    with pytest.raises(RunDirError, match=f"{MARKER_FILE} is missing format_version"):
        run.check_resumable()


def test_a_run_missing_a_file_after_its_checkpoints_is_told_to_restore_it_not_to_force(tmp_path, tiny_config):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.write_marker()
    run.write_run_files(tiny_config, Vocabulary.from_text("ab"), {"source": "x", "sha256": "0"})
    (run.checkpoint(5)).mkdir(parents=True)
    (run.checkpoint(5) / names.META_FILE).write_text("{}")
    (run.path / names.VOCAB_FILE).unlink()
    result = _invoke("fit", "--resume", run.path)
    assert result.exit_code == 2, result.output
    assert f"no {names.VOCAB_FILE}: restore the missing file" in result.output
    assert "--force would replace the run and delete its checkpoints" in result.output
    (run.checkpoint(5) / names.META_FILE).unlink()  # no checkpoint yet: stopped during start-up
    result = _invoke("fit", "--resume", run.path)
    assert result.exit_code == 2 and "stopped during start-up" in result.output, result.output


def test_a_relative_corpus_path_is_recorded_absolute_and_a_missing_one_gets_a_hint(tmp_path, tiny_config,
                                                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus.txt").write_text("abc")
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.write_marker()
    run.write_run_files(tiny_config, Vocabulary.from_text("abc"), {"source": "corpus.txt", "sha256": "0"})
    assert run.read_run_info()["source"] == str(tmp_path / "corpus.txt")
    assert run.corpus_source() == str(tmp_path / "corpus.txt")
    (tmp_path / "corpus.txt").rename(tmp_path / "moved.txt")
    result = _invoke("fit", "--resume", run.path)
    assert result.exit_code == 2, result.output
    assert f"{tmp_path / 'corpus.txt'}, is not found" in result.output
    assert f"give its path, charkeras fit CORPUS --resume {run.path}" in result.output
    assert run.corpus_source("moved.txt") == "moved.txt"


# --- durable atomic writes, stale temporaries, best --------------------------------------------------

def test_atomic_directory_fsyncs_files_and_directories(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with atomic.atomic_directory(tmp_path / "d") as tmp:
        (tmp / "a.bin").write_bytes(b"x")
    names = [os.path.basename(p) for p in synced]
    assert "a.bin" in names and str(tmp_path) in synced  # the file, then the directory after the rename
    synced.clear()
    atomic.write_text_atomic(tmp_path / "f.txt", "y")
    assert str(tmp_path) in synced


def test_replacing_a_directory_never_leaves_it_missing(tmp_path, monkeypatch):
    target = tmp_path / "best"
    with atomic.atomic_directory(target) as tmp:
        (tmp / "meta.json").write_text("old")
    with atomic.atomic_directory(target) as tmp:  # an atomic exchange where the OS has one
        (tmp / "meta.json").write_text("new")
    assert (target / "meta.json").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["best"]
    # Where there is no exchange: two renames. A kill between them leaves only .best.old, which the run
    # still finds as its best and the next start puts back.
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    real_replace, calls = os.replace, []

    def replace_then_die(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed between the two renames
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_then_die)
    (tmp_path / "checkpoints").mkdir()
    best = tmp_path / "checkpoints" / "best"
    real_replace(target, best)
    with pytest.raises(KeyboardInterrupt), atomic.atomic_directory(best) as tmp:
        (tmp / "meta.json").write_text("newer")
    monkeypatch.setattr(os, "replace", real_replace)
    assert not best.exists()
    assert RunDir(tmp_path).best_checkpoint().name == ".best.old"
    atomic.recover_directory(best)
    assert (best / "meta.json").read_text() == "new"


HOLD_TMP = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(120)
"""


def test_stale_temporaries_go_and_live_ones_stay(tmp_path):
    dead, live = tmp_path / ".ckpt-000000040.abc.tmp", tmp_path / ".best.def.tmp"
    dead.mkdir()
    live.mkdir()
    (dead / "variables.npz").write_bytes(b"half")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_TMP, str(live)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        removed = atomic.remove_stale_temporaries(tmp_path)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert removed == [dead] and live.is_dir() and not dead.exists()


@pytest.mark.slow
def test_best_also_comes_from_val_every_validations(shakespeare_slice, tiny_config, tmp_path, monkeypatch):
    from charkeras.train.callbacks.validation import Validation

    seen = []
    real_validate = Validation.validate

    def recording(self):  # epoch-end validations made to look worse, so the best must come from the others
        loss = real_validate(self)
        step = int(self.model.optimizer.iterations.numpy())
        if step % 74 == 0:
            loss = self.progress.last_val_loss = loss + 1.0
        seen.append((step, loss))
        return loss

    monkeypatch.setattr(Validation, "validate", recording)
    fit(shakespeare_slice, tmp_path / "r", tiny_config.replace(train={"val_every": 10}), verbose=0)
    best = json.loads((RunDir(tmp_path / "r").best_checkpoint() / "meta.json").read_text())
    step, loss = min(seen, key=lambda s: s[1])
    assert step % 74 != 0 and (best["step"], best["val_loss"]) == (step, loss)


# --- unreadable checkpoints -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def unbroken_run(tmp_path_factory):
    """tiny_config trained without a stop: (final weights, log.csv)."""
    from conftest import SHAKESPEARE

    from charkeras.config import CharConfig

    root = tmp_path_factory.mktemp("unbroken")
    (root / "slice.txt").write_text(SHAKESPEARE.read_text(encoding="utf-8")[:6000], encoding="utf-8")
    config = CharConfig().replace(
        model={"units": 16, "layers": 2, "embedding_dim": 8, "dropout": 0.1},
        data={"batch_size": 4, "seq_len": 16, "val_frac": 0.2},
        train={"epochs": 2, "checkpoint_every": 5, "sample_every": 0, "sample_len": 20, "lr_schedule": "cosine",
               "learning_rate": 5e-3, "keep_checkpoints": 2})
    model, _ = fit(root / "slice.txt", root / "run", config, verbose=0, cache_dir=root / "cache")
    return _weights(model), (root / "run" / "log.csv").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated variables.npz", "meta.json {}"])
def test_an_unreadable_newest_checkpoint_falls_back_to_the_previous_one(shakespeare_slice, tiny_config, tmp_path,
                                                                         capsys, damage, unbroken_run):
    weights, log = unbroken_run
    with pytest.raises(KeyboardInterrupt):
        fit(shakespeare_slice, tmp_path / "b", tiny_config, verbose=0, callbacks=[SignalAt(93, signal.SIGINT)])
    run = RunDir(tmp_path / "b")
    newest = run.latest_checkpoint()
    assert newest.name == "ckpt-000000094"  # the step after the signal: its end is the next safe point
    if damage == "meta.json {}":
        (newest / "meta.json").write_text("{}")
    else:
        data = (newest / "variables.npz").read_bytes()
        (newest / "variables.npz").write_bytes(data[: len(data) // 2])
    resumed, _ = fit(out=tmp_path / "b", resume=True, verbose=0)
    err = capsys.readouterr().err
    assert "warning:" in err and "resuming from the previous checkpoint ckpt-000000090" in err, err
    assert (run.checkpoints / "unreadable-ckpt-000000094").is_dir()
    for a, b in zip(weights, _weights(resumed)):
        np.testing.assert_array_equal(a, b)
    assert (tmp_path / "b" / "log.csv").read_text() == log


# --- SIGTERM ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_the_resume_is_exact(shakespeare_slice, tiny_config, tmp_path, capsys):
    cfg = tiny_config.replace(train={"sample_every": 30, "val_every": 25})
    straight, _ = fit(shakespeare_slice, tmp_path / "a", cfg, verbose=0)
    with pytest.raises(Interrupted) as stopped:
        fit(shakespeare_slice, tmp_path / "b", cfg, verbose=0, callbacks=[SignalAt(74, signal.SIGTERM)])
    assert stopped.value.exit_code == 143
    err = capsys.readouterr().err
    assert "interrupted (SIGTERM): saved" in err and f"continue with: charkeras fit --resume {tmp_path / 'b'}" in err
    assert RunDir(tmp_path / "b").latest_checkpoint().name == "ckpt-000000074"  # the epoch end: a stop there
    resumed, _ = fit(out=tmp_path / "b", resume=True, verbose=0)
    for a, b in zip(_weights(straight), _weights(resumed)):
        np.testing.assert_array_equal(a, b)
    for name in ("log.csv", "samples.jsonl"):
        assert (tmp_path / "b" / name).read_text() == (tmp_path / "a" / name).read_text()


@pytest.mark.slow
def test_epoch_end_samples_of_short_epochs_are_the_same_after_a_resume(shakespeare_slice, tiny_config, tmp_path):
    """Epochs shorter than --sample-every sample at some epoch ends only; a resumed run picks the same ones
    (here it resumes at step 206, after the last periodic sample before the epoch end at step 222)."""
    cfg = tiny_config.replace(train={"epochs": 3, "sample_every": 100, "checkpoint_every": 0})
    fit(shakespeare_slice, tmp_path / "a", cfg, verbose=0)
    with pytest.raises(KeyboardInterrupt):
        fit(shakespeare_slice, tmp_path / "b", cfg, verbose=0, callbacks=[SignalAt(205, signal.SIGINT)])
    fit(out=tmp_path / "b", resume=True, verbose=0)
    steps = [json.loads(line)["step"] for line in (tmp_path / "a" / "samples.jsonl").read_text().splitlines()]
    assert steps == [74, 100, 200]
    assert (tmp_path / "b" / "samples.jsonl").read_text() == (tmp_path / "a" / "samples.jsonl").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("lr, drop_checkpoint", [
    (0.2, False),  # resumed from a checkpoint taken after one validation that did not beat the best
    (0.5, True),  # resumed from the start, after the best had been written ahead of the checkpoint
])
def test_patience_stops_a_resumed_run_where_an_unbroken_one_stops(shakespeare_slice, tiny_config, tmp_path, lr,
                                                                   drop_checkpoint):
    cfg = tiny_config.replace(train={"epochs": 3, "checkpoint_every": 0, "lr_schedule": "constant",
                                     "learning_rate": lr, "val_every": 10, "patience": 2})
    straight, _ = fit(shakespeare_slice, tmp_path / "a", cfg, verbose=0)
    # The stop point depends on the losses (so on float rounding); read it from the unbroken run.
    validations = read_rows(tmp_path / "a" / VALIDATIONS_FILE, ("val_loss",))
    val_steps = [row["step"] for row in validations]
    best = min(range(len(validations)), key=lambda i: validations[i]["val_loss"])
    assert best + 2 < len(val_steps), "the unbroken run should stop by patience, not at its last epoch"
    stops_at = val_steps[best + 2]  # patience 2: the second validation that does not beat the best
    assert int(straight.optimizer.iterations.numpy()) == stops_at < 3 * 74
    stop_after = val_steps[best] + 4 if drop_checkpoint else val_steps[best + 1] + 3
    with pytest.raises(KeyboardInterrupt):
        fit(shakespeare_slice, tmp_path / "b", cfg, verbose=0, callbacks=[SignalAt(stop_after, signal.SIGINT)])
    if drop_checkpoint:  # as if killed before that checkpoint: the run resumes from its start
        for path in RunDir(tmp_path / "b").list_checkpoints():
            path.rename(path.with_name(f"gone-{path.name}"))
    resumed, _ = fit(out=tmp_path / "b", resume=True, verbose=0)
    assert int(resumed.optimizer.iterations.numpy()) == stops_at
    for a, b in zip(_weights(straight), _weights(resumed)):
        np.testing.assert_array_equal(a, b)


def test_an_extended_exponential_schedule_holds_its_final_lr():
    from charkeras.config import TrainConfig
    from charkeras.train.optimizers import make_optimizer

    cfg = TrainConfig(lr_schedule="exponential", learning_rate=1e-2, schedule_steps=100)
    schedule = make_optimizer(cfg, total_steps=300)._learning_rate
    at = [float(schedule(step)) for step in (0, 100, 200, 300)]
    assert at[0] == pytest.approx(1e-2) and at[1] == pytest.approx(1e-2 * cfg.min_lr_frac)
    assert at[2] == at[1] == at[3]


# --- what a resume may change -------------------------------------------------------------------------

@pytest.mark.slow
def test_more_epochs_on_resume_keep_the_schedule_and_never_raise_the_lr(shakespeare_slice, tiny_config, tmp_path):
    fit(shakespeare_slice, tmp_path / "r", tiny_config.replace(train={"epochs": 1}), verbose=0)
    model, _ = fit(out=tmp_path / "r", resume=True, epochs=3, verbose=0)
    lrs = [float(row["lr"]) for row in _log(tmp_path / "r")]
    final = tiny_config.train.learning_rate * tiny_config.train.min_lr_frac
    assert lrs == pytest.approx([final] * 3)  # the 1-epoch cosine ended at its floor and stays there
    stored = json.loads((tmp_path / "r" / "config.json").read_text())["train"]
    assert (stored["epochs"], stored["schedule_steps"]) == (3, 74)
    changes = json.loads((tmp_path / "r" / "run.json").read_text())["resumed_with_changes"]
    assert changes == [{"step": 74, "epochs": [1, 3], "schedule_steps": [0, 74]}]
    assert int(model.optimizer.iterations.numpy()) == 222


@pytest.mark.slow
def test_lr_may_be_lowered_on_resume(shakespeare_slice, tiny_config, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        fit(shakespeare_slice, tmp_path / "r", tiny_config, verbose=0, callbacks=[SignalAt(40, signal.SIGINT)])
    result = _invoke("fit", "--resume", tmp_path / "r", "--lr", "0.001", "--clipnorm", "1.0", "--quiet")
    assert result.exit_code == 0, result.output
    stored = json.loads((tmp_path / "r" / "config.json").read_text())["train"]
    assert (stored["learning_rate"], stored["clipnorm"]) == (0.001, 1.0)
    lrs = [float(row["lr"]) for row in _log(tmp_path / "r")]
    factor = tiny_config.train.min_lr_frac  # cosine at its last step
    assert lrs[-1] == pytest.approx(0.001 * factor)
    # epoch 1 ended under the new peak too: 0.001 x the cosine factor at step 74 of 148
    assert lrs[0] == pytest.approx(0.001 * (factor + (1 - factor) * 0.5 * (1 + math.cos(math.pi * 74 / 148))))


@pytest.mark.slow
def test_lr_on_resume_of_a_constant_schedule(shakespeare_slice, tiny_config, tmp_path):
    cfg = tiny_config.replace(train={"lr_schedule": "constant", "epochs": 1})
    fit(shakespeare_slice, tmp_path / "r", cfg, verbose=0)
    fit(out=tmp_path / "r", resume=True, epochs=2, changes={"learning_rate": 1e-3}, verbose=0)
    assert [float(row["lr"]) for row in _log(tmp_path / "r")] == pytest.approx([5e-3, 1e-3])


def test_resume_refuses_other_changes(tmp_path):
    result = _invoke("fit", "--resume", tmp_path, "--seq-len", "8", "--lr", "0.1")
    assert result.exit_code == 2 and "--seq-len" in result.output and "only --epochs" in result.output


def test_the_api_refusals_of_a_resume_name_the_one_resumable_list():
    # What a resume may change is defined once (config.RESUMABLE, config.resumable_text): the API's
    # refusals say exactly what the CLI's do, so a field made resumable shows in every message.
    from charkeras.config import CharConfig, resumable_text
    from charkeras.train.run.resuming import requested_changes

    stored = CharConfig()
    with pytest.raises(RunDirError) as unknown:
        requested_changes(stored, None, None, {"units": 8})
    assert str(unknown.value) == f"a resume cannot change units; only {resumable_text()} may change"
    with pytest.raises(RunDirError) as other:
        requested_changes(stored, stored.replace(model={"units": 8}), None, None)
    assert str(other.value).endswith(f"(only {resumable_text()} may change)")
    assert requested_changes(stored, None, 3, {"clipnorm": 1.0}) == {"epochs": 3, "clipnorm": 1.0}


# --- log rewinding ------------------------------------------------------------------------------------

def test_logs_are_cut_back_to_the_checkpoint(tmp_path):
    (tmp_path / names.LOG_FILE).write_text("epoch,step,loss,lr\r\n1,10,2.5,0.002\r\n2,20,2.0,0.001\r\n"
                                           "3,30,1.9,0.0005\r\n")
    (tmp_path / names.STEPS_FILE).write_text("step,epoch,loss,lr\n10,1,2.5,0.1\n20,2,2.0,0.1\n30,3,1.9,0.1\n")
    (tmp_path / names.SAMPLES_FILE).write_text('{"step": 5, "text": "a"}\n{"step": 25, "text": "b"}\n'
                                               '{"step": 3')
    rewind_logs(tmp_path, step=20)  # a checkpoint at step 20
    assert (tmp_path / names.LOG_FILE).read_bytes() == \
        b"epoch,step,loss,lr\r\n1,10,2.5,0.002\r\n2,20,2.0,0.001\r\n"
    assert [r["step"] for r in read_rows(tmp_path / names.STEPS_FILE, ("loss",))] == [10, 20]
    assert (tmp_path / names.SAMPLES_FILE).read_text() == '{"step": 5, "text": "a"}\n'


def test_patience_on_resume_counts_every_recorded_validation_clock_ones_included(tmp_path):
    """Validations by the clock fall on no step cadence: a resume must count them from the log."""
    from charkeras.train.callbacks.curve_logs import VALIDATION_COLUMNS
    from charkeras.train.callbacks.early_stopping import validations_between
    from charkeras.train.run.logs import append_row

    for step in (37, 74, 91, 148, 160):  # 74 and 148: epoch ends; 37, 91, 160: by the clock
        append_row(tmp_path / VALIDATIONS_FILE, VALIDATION_COLUMNS,
                   {"step": step, "epoch": step // 74 + 1, "val_loss": 2.0, "val_bpc": 2.9, "time": 0.0})
    assert validations_between(37, 148, tmp_path) == 3
    assert validations_between(0, 36, tmp_path) == 0
    assert validations_between(148, 200, tmp_path) == 1
