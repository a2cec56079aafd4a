"""Exact resume from every kind of stop, through the real CLI in subprocesses.

One tiny run (2x16 LSTM, dropout on, 6,000 characters, 2 epochs of 74 steps, periodic checkpoints,
--val-every validations and samples) is trained unbroken, and again as a chain of processes each stopped
at a different point: SIGKILL at start-up, after a periodic checkpoint, inside a checkpoint write, right
after an epoch-end checkpoint, between checkpoints, at a random moment; SIGTERM; SIGINT. Every process
but the first is `charkeras fit --resume`. The chain's final checkpoint must equal the unbroken run's
bit for bit (every variable, np.array_equal), and log.csv, samples.jsonl, TensorBoard's scalars and the
best checkpoint must equal the unbroken run's too. The kill points come from CHARKERAS_TEST_KILL_AFTER
(charkeras/train/kill_points.py); SIGTERM, SIGINT and the random kill are real signals sent from here.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ARGS = ["--units", "16", "--layers", "2", "--embedding-dim", "8", "--dropout", "0.1", "--batch-size", "4",
        "--seq-len", "16", "--val-frac", "0.2", "--epochs", "2", "--checkpoint-every", "20",
        "--keep-checkpoints", "2", "--sample-every", "30", "--sample-len", "20", "--val-every", "25",
        "--lr", "5e-3", "--quiet"]
KILLED = -signal.SIGKILL
TIMEOUT = 120  # seconds for any one process


class Processes:
    """Starts the CLI; every process it started is killed at the end, whatever happens."""

    def __init__(self):
        self.started: list[subprocess.Popen] = []

    def start(self, *args, kill_after: str | None = None) -> subprocess.Popen:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        env.pop("CHARKERAS_TEST_KILL_AFTER", None)
        if kill_after:
            env["CHARKERAS_TEST_KILL_AFTER"] = kill_after
        proc = subprocess.Popen([sys.executable, "-m", "charkeras_cli.main", *map(str, args)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        self.started.append(proc)
        return proc

    def run(self, *args, kill_after: str | None = None) -> tuple[int, str]:
        proc = self.start(*args, kill_after=kill_after)
        return finish(proc)

    def kill_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    out, err = proc.communicate(timeout=TIMEOUT)
    return proc.returncode, out + err


@pytest.fixture
def processes():
    procs = Processes()
    yield procs
    procs.kill_all()


def wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the process ended (rc {proc.returncode}) before {what}: {finish(proc)[1]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def newest_step(run: Path) -> int:
    steps = [int(p.name.split("-")[1]) for p in (run / "checkpoints").glob("ckpt-*") if (p / "meta.json").is_file()]
    return max(steps, default=0)


def is_locked(run: Path) -> bool:
    try:
        fd = os.open(run / ".charkeras-lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def final_arrays(run: Path) -> dict:
    with np.load(run / "checkpoints" / "ckpt-000000148" / "variables.npz") as npz:
        return {key: npz[key] for key in npz.files}


def curve(run: Path, name: str, column: str) -> list:
    """(step, value) rows of the report's step-axis curve files (their wall-clock column differs)."""
    import csv

    with open(run / name, newline="") as f:
        return [(int(row["step"]), row[column]) for row in csv.DictReader(f)]


def tensorboard_scalars(run: Path) -> list:
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    rows = []
    for path in sorted((run / "tensorboard").rglob("events.out.tfevents.*")):
        for raw in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(raw.numpy())
            for value in event.summary.value:
                rows.append((path.parent.name, value.tag, event.step, tf.make_ndarray(value.tensor).item()))
    return sorted(rows)


@pytest.mark.slow
def test_resume_is_exact_from_every_kind_of_stop(shakespeare_slice, tmp_path, processes):
    unbroken, chain = tmp_path / "unbroken", tmp_path / "chain"
    reference = processes.start("fit", shakespeare_slice, "--out", unbroken, *ARGS)  # runs beside the chain

    # 1. SIGKILL at start-up: run files written, no checkpoint yet.
    rc, out = processes.run("fit", shakespeare_slice, "--out", chain, *ARGS, kill_after="startup")
    assert rc == KILLED, out
    assert (chain / "run.json").is_file() and newest_step(chain) == 0
    resume = ("fit", "--resume", chain, "--quiet")
    # 2. right after the second periodic checkpoint (step 40); 3. inside the next checkpoint write (the best
    # after the validation at step 50: its files written, not renamed); 4. right after the epoch-end
    # checkpoint (step 74): the next epoch must start from zero states; 5. after step 95, whose sample at
    # step 90 and validation at step 75 are logged but covered by no checkpoint.
    for kill_after, newest in (("checkpoint:2", 40), ("during_checkpoint_write:1", 40),
                               ("epoch_end_checkpoint:1", 74), ("step:95", 80)):
        rc, out = processes.run(*resume, kill_after=kill_after)
        assert rc == KILLED, (kill_after, out)
        assert newest_step(chain) == newest, kill_after
    # 6. SIGTERM and 7. SIGINT once a new checkpoint shows training is under way: a checkpoint at the step
    # reached, exit 128 + signal, and the resume hint.
    for signum, rc_expected, after in ((signal.SIGTERM, 143, 80), (signal.SIGINT, 130, None)):
        after = newest_step(chain) if after is None else after
        proc = processes.start(*resume)
        wait_for(lambda: newest_step(chain) > after, proc, f"a checkpoint after step {after}")  # noqa: B023
        proc.send_signal(signum)
        rc, out = finish(proc)
        assert rc == rc_expected, out
        assert f"continue with: charkeras fit --resume {chain}" in out and "Traceback" not in out, out
        assert f"ckpt-{newest_step(chain):09d}" in out
    # 8. a SIGKILL at a random moment (start-up, training or a write; the seed is in the message).
    seed = random.randrange(10**6)
    delay = random.Random(seed).uniform(0.5, 8.0)
    proc = processes.start(*resume)
    time.sleep(delay)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    rc, out = finish(proc)
    assert rc in (KILLED, 0), (seed, delay, out)
    # 9. to the end; meanwhile a second fit on the same run is refused.
    proc = processes.start(*resume)
    wait_for(lambda: is_locked(chain), proc, "the run's lock")
    os.kill(proc.pid, signal.SIGSTOP)  # hold it there (lock taken) while the others try
    try:
        for args in (resume, ("fit", shakespeare_slice, "--out", chain, "--force", *ARGS)):
            rc_other, out_other = processes.run(*args)
            assert rc_other == 2 and "error:" in out_other and "in use by another charkeras process" in out_other, \
                out_other
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    rc, out = finish(proc)
    assert rc == 0, (seed, delay, out)

    rc, out = finish(reference)
    assert rc == 0, out
    a, b = final_arrays(unbroken), final_arrays(chain)
    assert sorted(a) == sorted(b)
    different = [key for key in a if not np.array_equal(a[key], b[key])]
    assert not different, (f"random kill seed {seed}", different)
    for name in ("log.csv", "samples.jsonl"):
        assert (chain / name).read_text() == (unbroken / name).read_text(), name
    assert tensorboard_scalars(chain) == tensorboard_scalars(unbroken)
    assert curve(chain, "validations.csv", "val_loss") == curve(unbroken, "validations.csv", "val_loss")
    steps = [step for step, _ in curve(chain, "steps.csv", "lr")]
    assert steps == sorted(set(steps)) == [step for step, _ in curve(unbroken, "steps.csv", "lr")]
    best_a = json.loads((unbroken / "checkpoints" / "best" / "meta.json").read_text())
    best_b = json.loads((chain / "checkpoints" / "best" / "meta.json").read_text())
    assert (best_b["step"], best_b["val_loss"]) == (best_a["step"], best_a["val_loss"])
    assert not list((chain / "checkpoints").glob(".*")), "leftover temporaries"


@pytest.mark.slow
@pytest.mark.parametrize("signum, rc_expected", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_start_up_is_a_clean_exit(shakespeare_slice, tmp_path, processes, signum, rc_expected):
    proc = processes.start("fit", shakespeare_slice, "--out", tmp_path / "r", *ARGS)
    time.sleep(1.5)  # importing TensorFlow
    proc.send_signal(signum)
    rc, out = finish(proc)
    assert rc == rc_expected, out
    assert f"interrupted ({signal.Signals(signum).name})" in out
    assert "Aborted" not in out and "Traceback" not in out, out
