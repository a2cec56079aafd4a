"""Data-parallel training (issue 12): --strategy mirrored on 2 logical CPU devices and 2 local workers
(MultiWorkerMirroredStrategy on 127.0.0.1) against --strategy one with the same global batch.

TensorFlow fixes its devices and its collective runtime when it starts, so every distributed run is a
fresh process (the real CLI); the one-device reference trains in this process. Every child has a
timeout and is killed on the way out.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from charkeras.config import CharConfig
from charkeras.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 150  # seconds for any child process
STEPS = 8
OPTIONS = {"units": 8, "layers": 2, "embedding_dim": 8, "dropout": 0.0, "batch_size": 4, "seq_len": 8,
           "val_frac": 0.2, "val_batches": 2, "max_steps": STEPS, "checkpoint_every": 2, "keep_checkpoints": 10, "val_every": 3,
           "sample_every": 0, "sample_len": 8}


def _cli_args(options=OPTIONS):
    return [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]


def _config(**train):
    o = OPTIONS
    return CharConfig().replace(
        model={"units": o["units"], "layers": o["layers"], "embedding_dim": o["embedding_dim"], "dropout": 0.0},
        data={"batch_size": o["batch_size"], "seq_len": o["seq_len"], "val_frac": o["val_frac"], "val_batches": 2},
        train={"max_steps": STEPS, "checkpoint_every": 2, "keep_checkpoints": 10, "val_every": 0,
               "sample_every": 0, "sample_len": 8, **train})


def _checkpoint(run: Path, step: int) -> dict:
    with np.load(run / "checkpoints" / f"ckpt-{step:09d}" / "variables.npz") as npz:
        return {k: npz[k] for k in npz.files if not k.startswith("metric/")}


def _assert_same(actual: dict, expected: dict):
    assert sorted(actual) == sorted(expected)
    for key, want in expected.items():
        np.testing.assert_allclose(actual[key], want, rtol=1e-5, atol=1e-6, err_msg=key)


def _env(tmp_path, **extra):
    env = {**os.environ, "CHARKERAS_CACHE": str(tmp_path / "cache"), "TF_CPP_MIN_LOG_LEVEL": "2",
           "TMPDIR": str(tmp_path / "tmp"), **extra}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env.pop("TF_CONFIG", None)
    env.pop("CHARKERAS_TEST_KILL_AFTER", None)
    return {**env, **extra}


def _charkeras(*args):
    return [sys.executable, "-c", "from charkeras_cli.main import main; main()", *map(str, args)]


def _run(args, env, timeout=TIMEOUT):
    # From a neutral directory (the test's own TMPDIR): the installed tool, never the checkout's
    # charkeras/ folder found through the working directory.
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, cwd=env["TMPDIR"],
                          check=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "slice.txt"
    path.write_text((REPO / "data" / "tinyshakespeare.txt").read_text(encoding="utf-8")[:4000], encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory):
    """--strategy one, in this process, without --val-every: every checkpoint of the same 8 steps."""
    from charkeras.train.driver import fit

    root = tmp_path_factory.mktemp("reference")
    fit(corpus, root / "run", _config(), verbose=0, cache_dir=root / "cache", strategy="one")
    return root / "run"


# --- choosing the strategy (no devices needed) ----------------------------------------------------------

def test_auto_strategy_and_cluster_roles(monkeypatch):
    from charkeras.train.distributed import cluster
    from charkeras.train.distributed.strategy import resolve_strategy_name

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert resolve_strategy_name("auto") == "one" and resolve_strategy_name(None, cpu_devices=2) == "mirrored"
    assert cluster.is_chief_task() and not cluster.uses_cluster("auto")
    workers = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": workers, "task": {"type": "worker", "index": 1}}))
    assert resolve_strategy_name("auto") == "multi-worker" and resolve_strategy_name("one") == "one"
    assert cluster.uses_cluster("auto") and not cluster.uses_cluster("one") and not cluster.is_chief_task()
    assert cluster.worker_count() == 2
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"chief": ["h:1"], **workers},
                                                "task": {"type": "worker", "index": 0}}))
    assert not cluster.is_chief_task() and cluster.worker_count() == 3
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG is not JSON"):
        resolve_strategy_name("auto")
    with pytest.raises(ConfigError, match="--strategy must be one of"):
        resolve_strategy_name("tpu")


class _FakeStore:
    """The coordination service's key-value store as `Job._leave` uses it: what it set and waited for."""

    def __init__(self, fail_waits=False):
        self.set, self.waited, self.fail_waits = [], [], fail_waits

    def set_config_key_value(self, key, value):
        self.set.append(key)

    def get_config_key_value(self, key, timeout_in_ms=0):
        self.waited.append(key)
        if self.fail_waits:
            import tensorflow as tf
            raise tf.errors.UnavailableError(None, None, "the chief left")
        return "done"


def _leaving_job(monkeypatch, task, store, cluster=None):
    from charkeras.train.distributed import strategy

    workers = cluster or {"worker": [f"127.0.0.1:{port}" for port in (1, 2, 3)]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": workers, "task": task}))
    monkeypatch.setattr(strategy.Job, "multi_worker", property(lambda job: True))
    monkeypatch.setattr(strategy.Job, "chief", property(lambda job: strategy.is_chief_task()))
    monkeypatch.setattr(strategy.context, "context", lambda: store)
    return strategy.Job(strategy=None, run_path=Path("run"), number=4)


def test_the_chief_leaves_a_job_only_after_every_other_worker(monkeypatch):
    # the chief hosts the coordination service: it waits for every other worker's key, sets none
    chief = _FakeStore()
    with _leaving_job(monkeypatch, {"type": "worker", "index": 0}, chief).leaving_together():
        pass
    assert chief.set == [] and chief.waited == ["charkeras/fit-4/left/worker-1", "charkeras/fit-4/left/worker-2"]
    # another worker says it is done, then waits for the workers that may still read its part
    worker = _FakeStore()
    with _leaving_job(monkeypatch, {"type": "worker", "index": 1}, worker).leaving_together():
        pass
    assert worker.set == ["charkeras/fit-4/left/worker-1"] and worker.waited == ["charkeras/fit-4/left/worker-2"]
    # with a "chief" task, worker 0 is one of the workers to wait for
    store = _FakeStore()
    cluster = {"chief": ["127.0.0.1:9"], "worker": ["127.0.0.1:1"]}
    with _leaving_job(monkeypatch, {"type": "chief", "index": 0}, store, cluster).leaving_together():
        pass
    assert store.set == [] and store.waited == ["charkeras/fit-4/left/worker-0"]


def test_workers_leave_together_only_from_a_point_they_all_reached(monkeypatch):
    from charkeras.errors import WorkersDisagree
    from charkeras.train.interrupts import Interrupted

    together = [WorkersDisagree("the workers were not started with the same corpus"),
                Interrupted(signal.SIGTERM, together=True)]
    alone = [ConfigError("--lr must be > 0"), Interrupted(signal.SIGTERM), Interrupted(signal.SIGINT, forced=True)]
    for error in together + alone:
        store = _FakeStore()
        job = _leaving_job(monkeypatch, {"type": "worker", "index": 1}, store)
        with pytest.raises(type(error)), job.leaving_together():
            raise error
        assert (store.set == ["charkeras/fit-4/left/worker-1"]) == (error in together), error
    # a chief that left first (or a worker that went away) ends the wait, not the worker
    store = _FakeStore(fail_waits=True)
    with _leaving_job(monkeypatch, {"type": "worker", "index": 1}, store).leaving_together():
        pass
    assert store.waited == ["charkeras/fit-4/left/worker-2"]


_ONE_WORKER = {"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}


@pytest.mark.parametrize("tf_config, says", [
    ({**_ONE_WORKER, "task": {"type": "worker", "index": "0"}}, "task index must be an integer in [0, 0]"),
    ({**_ONE_WORKER, "task": {"type": "worker", "index": 1}}, "task index must be an integer in [0, 0]"),
    ({**_ONE_WORKER, "task": {"type": "worker", "index": True}}, "task index must be an integer"),
    ({**_ONE_WORKER, "cluster": ["127.0.0.1:1"]}, "\"cluster\" must be an object"),
    ({**_ONE_WORKER, "cluster": {"worker": "127.0.0.1:1"}}, "must be a list of \"host:port\""),
    ({**_ONE_WORKER, "task": "worker"}, "TF_CONFIG needs \"task\""),
    ({"cluster": _ONE_WORKER["cluster"]}, "TF_CONFIG needs \"task\""),
    ({"cluster": {**_ONE_WORKER["cluster"], "ps": ["127.0.0.1:2"]}, "task": {"type": "ps", "index": 0}},
     "has 'ps' tasks"),
    ({**_ONE_WORKER, "task": {"type": "chief", "index": 0}}, "task type 'chief' is not in its cluster"),
])
def test_a_malformed_tf_config_is_one_error_line(tmp_path, corpus, tf_config, says):
    out = _run(_charkeras("fit", corpus, "--out", tmp_path / "run", "--max-steps", 1),
               _env(tmp_path, TF_CONFIG=json.dumps(tf_config)), timeout=60)
    assert out.returncode == 2 and out.stderr.startswith("error: TF_CONFIG"), out.stderr[-2000:]
    assert says in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not (tmp_path / "run").exists()


def _waiting_worker(tmp_path, corpus, code=None):
    """Worker 0 of a 2-worker TF_CONFIG whose worker 1 never starts; returns (process, worker 1's address).
    `code`: Python to run instead of the CLI."""
    hosts = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    env = _env(tmp_path, TF_CONFIG=json.dumps({"cluster": {"worker": hosts},
                                              "task": {"type": "worker", "index": 0}}))
    args = ([sys.executable, "-c", code, str(corpus), str(tmp_path / "run")] if code else
            _charkeras("fit", corpus, "--out", tmp_path / "run", "--max-steps", 1, "--quiet"))
    return subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True), hosts[1]


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_while_waiting_for_the_other_workers_ends_the_worker(tmp_path, corpus, signum, code):
    proc, _ = _waiting_worker(tmp_path, corpus)
    try:
        time.sleep(8)  # TensorFlow imported, waiting for worker 1
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        proc.send_signal(signum)
        err = proc.communicate(timeout=30)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err[-2000:]
    assert f"interrupted ({signal.Signals(signum).name}) before anything was written" in err


def test_waiting_for_the_other_workers_is_bounded_and_names_them(tmp_path, corpus):
    code = ("import sys\nfrom charkeras.config import CharConfig\n"
            "from charkeras.train.driver import fit\n"
            "fit(sys.argv[1], sys.argv[2], CharConfig().replace(train={'cluster_timeout': 2.0}))\n")
    proc, missing = _waiting_worker(tmp_path, corpus, code)
    try:
        err = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0 and "WorkerLost" in err, err[-2000:]
    assert f"worker 1 ({missing}) not reached within 2 s (--cluster-timeout)" in err
    assert not (tmp_path / "run").exists()


def test_batch_size_must_divide_over_the_replicas():
    from charkeras.train.distributed.strategy import replica_batch_size

    assert replica_batch_size(SimpleNamespace(num_replicas_in_sync=2), 64) == 32
    with pytest.raises(ConfigError, match="--batch-size 5 is not divisible by the 2 replicas.*--batch-size 4"):
        replica_batch_size(SimpleNamespace(num_replicas_in_sync=2), 5)


def test_cpu_devices_cannot_change_once_tensorflow_runs():
    import tensorflow as tf

    from charkeras.train.distributed.strategy import configure_cpu_devices

    tf.constant(1.0) + 1.0  # the runtime is started (as after any earlier test)
    have = len(tf.config.list_logical_devices("CPU"))
    configure_cpu_devices(have)  # what it already is: fine
    with pytest.raises(ConfigError, match="start a new process"):
        configure_cpu_devices(have + 2)


def test_each_worker_reads_only_its_replicas_rows():
    import tensorflow as tf

    from charkeras.data.replica_input import replica_dataset
    from charkeras.data.streams import StreamLayout, batch_windows

    ids = np.arange(1000, dtype=np.uint16) % 251
    layout = StreamLayout.for_length(len(ids), 8, 5)  # 8 streams; 4 replicas on 2 workers: 2 streams each
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1, num_replicas_in_sync=4)
    elements = list(replica_dataset(ids, layout, context, skip=3, take=2))
    assert len(elements) == 4  # batches 3 and 4, each once for replica 2 then replica 3
    for i, (x, y) in enumerate(elements):
        k, replica = 3 + i // 2, 2 + i % 2
        want_x, want_y = batch_windows(ids, layout, k, slice(replica * 2, replica * 2 + 2))
        np.testing.assert_array_equal(x.numpy(), want_x)
        np.testing.assert_array_equal(y.numpy(), want_y)


def test_replicas_in_one_process(tmp_path):
    """Two logical CPUs, MirroredStrategy: each replica gets its streams, the carried states round-trip in
    global stream order, dropout draws other masks on each replica and is keras's Dropout on one device."""
    script = textwrap.dedent("""
        import numpy as np, tensorflow as tf, keras
        from charkeras.train.distributed.strategy import choose_strategy
        strategy = choose_strategy("mirrored", cpu_devices=2)
        assert strategy.num_replicas_in_sync == 2
        from charkeras.config import ModelConfig
        from charkeras.data.replica_input import distributed_batches
        from charkeras.data.streams import StreamLayout, batch_windows
        from charkeras.model.carried_state import get_states, reset_states, set_states
        from charkeras.model.networks import build_training_model
        from charkeras.model.replica_dropout import ReplicaDropout

        ids = np.arange(2000, dtype=np.uint16) % 97
        layout = StreamLayout.for_length(len(ids), 4, 6)
        batches = iter(distributed_batches(strategy, ids, layout, skip=2, take=1))
        x, y = next(batches)
        for r, (xr, yr) in enumerate(zip(strategy.experimental_local_results(x), strategy.experimental_local_results(y))):
            want_x, want_y = batch_windows(ids, layout, 2, slice(2 * r, 2 * r + 2))
            assert (xr.numpy() == want_x).all() and (yr.numpy() == want_y).all(), r

        cfg = ModelConfig(vocab_size=97, embedding_dim=4, units=3, layers=2, dropout=0.5, lstm_impl="fused")
        with strategy.scope():
            model = build_training_model(cfg, 2, 6, seed=3)
        states = [np.random.default_rng(i).normal(size=(4, 3)).astype(np.float32) for i in range(4)]
        set_states(model, states)
        for got, want in zip(get_states(model), states):
            assert np.array_equal(got, want)
        layer_state = model.get_layer("lstm_0").states[0]
        copies = [v.numpy() for v in strategy.experimental_local_results(layer_state.value)]
        assert np.array_equal(copies[0], states[0][:2]) and np.array_equal(copies[1], states[0][2:])
        reset_states(model)
        assert not np.any(get_states(model)[0])

        ones = tf.ones([2, 6, 64])
        layer = ReplicaDropout(0.5, seed=7)
        with strategy.scope():
            layer.build(ones.shape)
        masks = strategy.experimental_local_results(
            tf.function(lambda: strategy.run(lambda: layer(ones, training=True)))())
        assert not np.array_equal(masks[0].numpy(), masks[1].numpy())  # each replica its own masks
        plain, ours = keras.layers.Dropout(0.5, seed=11), ReplicaDropout(0.5, seed=11)
        assert np.array_equal(plain(ones, training=True).numpy(), ours(ones, training=True).numpy())
        print("ok")
    """)
    out = _run([sys.executable, "-c", script], _env(tmp_path))
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]


# --- the same mathematics, checkpoints and resume -------------------------------------------------------

@pytest.mark.slow
def test_mirrored_trains_like_one_device_and_resumes_on_any_replica_count(corpus, reference, tmp_path):
    from charkeras.train.driver import fit
    from charkeras.train.run.loading import inference_model_from_run

    env = _env(tmp_path)
    bad = _run(_charkeras("fit", corpus, "--out", tmp_path / "bad", "--strategy", "mirrored", "--cpu-devices", 2,
                          *_cli_args({**OPTIONS, "batch_size": 3})), env)
    assert bad.returncode == 2 and "error: --batch-size 3 is not divisible by the 2 replicas" in bad.stderr
    assert not (tmp_path / "bad").exists()

    run = tmp_path / "mirrored"
    mirrored = ["--strategy", "mirrored", "--cpu-devices", 2, "--quiet"]
    killed = _run(_charkeras("fit", corpus, "--out", run, *mirrored, *_cli_args()),
                  _env(tmp_path, CHARKERAS_TEST_KILL_AFTER="step:5"))
    assert killed.returncode == -9, killed.stderr[-3000:]  # SIGKILLed after step 5: checkpoint 4 is the last
    # 4 steps on 2 replicas (validating every 3 steps) = 4 steps on one device: weights, optimizer, and the
    # carried states in global stream order
    _assert_same(_checkpoint(run, 4), _checkpoint(reference, 4))
    other_count = tmp_path / "resumed-on-one"
    shutil.copytree(run, other_count)

    resumed = _run(_charkeras("fit", "--resume", run, *mirrored), env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _assert_same(_checkpoint(run, STEPS), _checkpoint(reference, STEPS))

    # The states were saved in stream order: one device (R=1) continues the 2-replica run exactly.
    fit(out=other_count, resume=True, verbose=0, strategy="one", cache_dir=tmp_path / "cache")
    _assert_same(_checkpoint(other_count, STEPS), _checkpoint(reference, STEPS))

    # What export reads: the training model is rebuilt at the global batch; weights are weights.
    ours, _, _, _ = inference_model_from_run(run, "latest")
    theirs, _, _, _ = inference_model_from_run(reference, "latest")
    for a, b in zip(ours.weights, theirs.weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _workers(args, tmp_path, kill_worker_1_after=None, meanwhile=None):
    """Run `charkeras fit ARGS` as the 2 workers of a local cluster; returns their (returncode, stderr).
    `meanwhile(processes)` runs while they train."""
    hosts = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    try:
        for index in range(2):
            extra = {"TF_CONFIG": json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}})}
            if index == 1 and kill_worker_1_after is not None:
                extra["CHARKERAS_TEST_KILL_AFTER"] = f"step:{kill_worker_1_after}"
            procs.append(subprocess.Popen(_charkeras("fit", *args), env=_env(tmp_path, **extra), cwd=tmp_path,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        if meanwhile is not None:
            meanwhile(procs)
        errors = [p.communicate(timeout=TIMEOUT)[1] for p in procs]
        return [(p.returncode, err) for p, err in zip(procs, errors)]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.mark.slow
def test_two_workers_train_like_one_device_and_resume_after_a_worker_is_killed(corpus, reference, tmp_path):
    run = tmp_path / "workers"
    # Samples on a step cadence (by default they come by the clock, too rarely for 8 steps).
    args = _cli_args({**OPTIONS, "sample_every": 3})
    (rc0, err0), (rc1, _) = _workers(["--strategy", "multi-worker", corpus, "--out", run, "--quiet", *args],
                                     tmp_path, kill_worker_1_after=5)
    assert rc1 == -9
    assert rc0 == 2 and "error: a worker of the multi-worker job stopped" in err0, err0[-3000:]
    assert f"--resume {run}" in err0
    _assert_same(_checkpoint(run, 4), _checkpoint(reference, 4))  # only the chief wrote the run

    (rc0, err0), (rc1, err1) = _workers(["--strategy", "multi-worker", "--resume", run, "--quiet"], tmp_path)
    assert rc0 == 0 and rc1 == 0, (err0[-2000:], err1[-2000:])
    _assert_same(_checkpoint(run, STEPS), _checkpoint(reference, STEPS))
    assert (run / "log.csv").is_file() and (run / "report.html").is_file()
    steps = [json.loads(line)["step"] for line in (run / "samples.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))  # one writer: no sample twice
    leftovers = [p.name for p in (tmp_path / "tmp").iterdir() if p.name.startswith("charkeras-worker")]
    assert len(leftovers) <= 1  # the killed worker's own temporary run; the finished one removed its own


@pytest.mark.slow
def test_sigterm_to_one_worker_stops_every_worker_at_the_same_step_with_a_checkpoint(corpus, tmp_path):
    run = tmp_path / "workers"
    options = {**OPTIONS, "max_steps": 5000, "checkpoint_every": 20, "val_every": 0}

    def terminate_worker_1_after_the_first_checkpoint(procs):
        deadline = time.monotonic() + TIMEOUT
        while not any(p.name.startswith("ckpt-") for p in (run / "checkpoints").glob("*")):
            ended = [p for p in procs if p.poll() is not None]
            assert not ended, "a worker ended before the first checkpoint:\n" + "\n".join(
                f"rc {p.returncode}: {p.stderr.read()[-2000:]}" for p in ended)
            assert time.monotonic() < deadline, "no checkpoint"
            time.sleep(0.2)
        procs[1].send_signal(signal.SIGTERM)

    (rc0, err0), (rc1, err1) = _workers(["--strategy", "multi-worker", corpus, "--out", run, "--quiet",
                                         *_cli_args(options)], tmp_path, meanwhile=terminate_worker_1_after_the_first_checkpoint)
    assert rc0 == rc1 == 143, (err0[-2000:], err1[-2000:])
    saved = [line for line in err0.splitlines() if line.startswith("interrupted (SIGTERM): saved ")]
    assert saved and f"continue with: charkeras fit --resume {run}" in saved[0], err0[-2000:]
    step = int(saved[0].split("ckpt-")[1][:9])
    assert 0 < step < 5000 and (run / "checkpoints" / f"ckpt-{step:09d}" / "variables.npz").is_file()
    assert f"saved {run}/checkpoints/ckpt-{step:09d}" in err1  # the worker names the job's checkpoint


@pytest.mark.slow
def test_workers_started_with_other_options_stop_with_one_error_line(corpus, tmp_path):
    hosts = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    try:
        for index, units in ((0, 8), (1, 16)):
            extra = {"TF_CONFIG": json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}})}
            args = ["fit", corpus, "--out", tmp_path / "run", "--strategy", "multi-worker", "--quiet",
                    *_cli_args({**OPTIONS, "units": units})]
            procs.append(subprocess.Popen(_charkeras(*args), env=_env(tmp_path, **extra), cwd=tmp_path,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        errors = [p.communicate(timeout=TIMEOUT)[1] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, err in zip(procs, errors):
        assert p.returncode == 2 and "error: the workers were not started with the same corpus and options" in err, err
    assert not (tmp_path / "run" / "checkpoints").exists() or not any((tmp_path / "run" / "checkpoints").iterdir())
