"""Which tf.distribute strategy trains, on which devices, and which worker writes the run.

`--strategy`:
    one           the default strategy, one device; `model.fit` trains (charkeras/train/driver.py)
    mirrored      MirroredStrategy over this machine's GPUs, or over `--cpu-devices N` logical CPUs
    multi-worker  MultiWorkerMirroredStrategy over the machines `TF_CONFIG` names (each worker's GPUs,
                  or one CPU replica per worker)
    auto          multi-worker when TF_CONFIG names a cluster, mirrored when more than one GPU is
                  visible or `--cpu-devices` asks for more than one device, else one
Mirrored and multi-worker runs train with charkeras/train/distributed_loop.py. `--batch-size` stays the
global number of streams B: each of the R replicas owns B/R contiguous streams (charkeras/data/replica_input.py)
and its own carried state, so B must be divisible by R.

Everything here must run before TensorFlow's first op: logical CPU devices and the collective
runtime of MultiWorkerMirroredStrategy are fixed when TensorFlow starts.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import shutil
import signal
import tempfile
import threading
from pathlib import Path

import tensorflow as tf

from charkeras.config import STRATEGIES
from charkeras.errors import RunDirError, WorkerLost, require
from charkeras.train.cluster import cluster, is_chief_task, worker_count
from charkeras.train.run_dir import CONFIG_FILE
from charkeras.train.run_lock import LOCK_FILE


def configure_cpu_devices(count: int) -> None:
    """Split the CPU into `count` logical devices (0: leave it alone); must precede TensorFlow's first op."""
    if not count:
        return
    require(count >= 1, f"--cpu-devices must be >= 1 (got {count})")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:  # TensorFlow already runs (a notebook, or fit called twice in one process)
        have = len(tf.config.list_logical_devices("CPU"))
        require(have == count, f"--cpu-devices {count}: TensorFlow already runs in this process with {have} "
                               "CPU device(s); start a new process to change it")


def resolve_strategy_name(name: str | None, cpu_devices: int = 0) -> str:
    name = name or "auto"
    require(name in STRATEGIES, f"--strategy must be one of {', '.join(STRATEGIES)} (got {name!r})")
    if name != "auto":
        return name
    if cluster():
        return "multi-worker"
    if len(tf.config.list_physical_devices("GPU")) > 1 or cpu_devices > 1:
        return "mirrored"
    return "one"


def choose_strategy(strategy=None, cpu_devices: int = 0):
    """A tf.distribute.Strategy from a name of STRATEGIES (None: "auto") or a Strategy given as is."""
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    name = resolve_strategy_name(strategy, cpu_devices)
    if name == "multi-worker":
        require(cluster() is not None,
                "--strategy multi-worker needs TF_CONFIG naming the cluster and this worker's task "
                "(README, \"Scaling out\")")
        require(cpu_devices <= 1, "--cpu-devices does not apply to --strategy multi-worker: each worker trains "
                                  "on its GPUs, or on its CPU as one replica")
        job.multi_worker = True
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        _reclaim_signals()
        return strategy
    configure_cpu_devices(cpu_devices)
    if name == "one":
        return tf.distribute.get_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return tf.distribute.MirroredStrategy(devices)


def _reclaim_signals() -> None:
    """MultiWorkerMirroredStrategy's coordination service installs a SIGTERM handler of its own (a
    preemption notifier charkeras does not use), which swallows the signal: give SIGTERM and SIGINT back to
    the Python handlers (charkeras/train/interrupts.py: stop after the step, with a checkpoint)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        handler = signal.getsignal(signum)
        if handler is not None:
            signal.signal(signum, handler)


def is_distributed(strategy) -> bool:
    """True for the strategies that train with the custom loop (mirrored, multi-worker)."""
    return isinstance(strategy, (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy))


def is_multi_worker(strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def worker_index(strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(resolver.task_id or 0) if is_multi_worker(strategy) and resolver is not None else 0


def is_chief(strategy) -> bool:
    """Whether this process writes the run: worker 0 (or the task named "chief"); always, off a cluster."""
    return not is_multi_worker(strategy) or is_chief_task()


def replica_batch_size(strategy, batch_size: int) -> int:
    """B / R, the streams of one replica; an error when B is not divisible by the replica count R."""
    replicas = strategy.num_replicas_in_sync
    require(batch_size % replicas == 0,
            f"--batch-size {batch_size} is not divisible by the {replicas} replicas of this strategy: each "
            f"replica owns B/R streams; pass a multiple of {replicas}, e.g. --batch-size "
            f"{max(replicas, batch_size // replicas * replicas)}")
    return batch_size // replicas


def describe(strategy) -> str:
    replicas = strategy.num_replicas_in_sync
    if is_multi_worker(strategy):
        return f"multi-worker: {worker_count()} workers, {replicas} replicas (this is worker {worker_index(strategy)})"
    if is_distributed(strategy):
        return f"mirrored: {replicas} replicas ({', '.join(strategy.extended.worker_devices)})"
    return "one device"


def barrier(strategy) -> None:
    """Wait until every worker reaches this point (an all-reduce of nothing much)."""
    def replica_fn():
        return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, tf.ones([]))

    tf.function(lambda: strategy.run(replica_fn))()


class _Job:
    """What the driver needs to know about this process's place in a multi-worker job."""

    multi_worker: bool = False
    run_path: Path | None = None  # the job's run directory (the chief's), for messages on any worker
    waited: bool = False  # a non-chief worker already passed the start-up barrier (resume)


job = _Job()

# Collective failures: a peer that died, was restarted, or did not answer in time.
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError,
               tf.errors.AbortedError, tf.errors.InternalError, tf.errors.FailedPreconditionError)


def worker_lost(exc: tf.errors.OpError, where: str = "") -> WorkerLost:
    first_line = (exc.message or type(exc).__name__).strip().splitlines()[0][:300]
    run = job.run_path
    if run is not None and (run / CONFIG_FILE).is_file():
        then = (f"Restart every worker with: charkeras fit --resume {run} (the same TF_CONFIG) to continue "
                "exactly from the last checkpoint")
    else:  # the chief had not created the run yet (or this worker cannot see it)
        then = "The run was not created here: once the cause is fixed, start every worker again"
    return WorkerLost(f"a worker of the multi-worker job stopped or cannot be reached ({first_line}){where}. {then}")


def stop_on_lost_workers(function):
    """`fit` of a multi-worker job: a collective that fails because another worker stopped (a crash, a
    kill, an error of its own) ends this worker with WorkerLost, one `error:` line, not a traceback."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except PEER_ERRORS as exc:
            if not job.multi_worker:
                raise
            raise worker_lost(exc) from None

    return wrapper


def worker_out(out, strategy, resume: bool) -> Path:
    """The run directory this process trains in: `out` itself off a cluster and on the chief.

    A non-chief worker of a multi-worker job trains in a temporary directory removed when it exits, as
    TensorFlow's multi-worker guide prescribes: every worker runs the same saving code (the carried states
    are gathered inside it, a collective), but only the chief's files are kept. To resume, it first waits
    for the chief to open the run (its repairs), then copies the run there and resumes from the copy, so
    every worker makes the same decisions from the same checkpoint; the run directory must therefore be
    readable by every worker (a shared filesystem, or a copy at the same path) to resume.
    """
    job.run_path = Path(out)
    if is_chief(strategy):
        return Path(out)
    temp = Path(tempfile.mkdtemp(prefix=f"charkeras-worker{worker_index(strategy)}-"))
    atexit.register(shutil.rmtree, temp, True)
    if resume:
        barrier(strategy)  # the chief has opened (and repaired) the run: see prepare_replicas
        job.waited = True
        source = Path(out)
        if not (source / CONFIG_FILE).is_file():
            raise RunDirError(f"worker {worker_index(strategy)} cannot read the run {source} to resume it: every "
                              "worker of a multi-worker job must see the run directory at the same path (a "
                              "shared filesystem, or a copy of the chief's run directory)")
        try:
            shutil.copytree(source, temp, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".*.tmp", LOCK_FILE))
        except shutil.Error:
            pass  # a file the chief moved meanwhile (an unreadable checkpoint set aside): the chief skips it too
    return temp


def prepare_replicas(strategy, config) -> int:
    """Check the run's options against the strategy before anything is written; returns b = B/R.

    Multi-worker: also the start-up barrier the non-chief workers wait at before they copy a run to
    resume (charkeras/train/distribution.py, `worker_out`), reached by the chief once it has opened the run.
    """
    per_replica = replica_batch_size(strategy, config.data.batch_size)
    if is_multi_worker(strategy):
        require(not (getattr(config.train, "time_budget", 0) and not config.train.max_steps),
                "--time-budget cannot plan a multi-worker job (each worker would time itself): pass --max-steps")
        if not job.waited:
            barrier(strategy)
        _check_same_options(strategy, config)
    return per_replica


def _check_same_options(strategy, config) -> None:
    """Every worker must build the same model on the same layout, or their collectives would not match:
    compare a fingerprint of the run's config (its vocabulary size included) before the model is built."""
    mine = float(int(hashlib.sha256(config.to_json().encode()).hexdigest()[:12], 16))  # 48 bits: exact

    def replica_fn(value):
        return tf.distribute.get_replica_context().all_gather(value[None], axis=0)

    gathered = tf.function(lambda value: strategy.run(replica_fn, args=(value,)))(tf.constant(mine, tf.float64))
    if len(set(strategy.experimental_local_results(gathered)[0].numpy().tolist())) != 1:
        raise WorkerLost("the workers were not started with the same corpus and options (their configs differ): "
                         "start every worker with the same command, TF_CONFIG aside")
