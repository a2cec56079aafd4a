"""Which tf.distribute strategy trains, on which devices, and which worker writes the run.

`--strategy`:
    one           the default strategy, one device; `model.fit` trains (`driver.fit`)
    mirrored      MirroredStrategy over this machine's GPUs, or over `--cpu-devices N` logical CPUs
    multi-worker  MultiWorkerMirroredStrategy over the machines `TF_CONFIG` names (each worker's
                  GPUs, or one CPU replica per worker)
    auto          multi-worker when TF_CONFIG names a cluster, mirrored when more than one GPU is
                  visible or `--cpu-devices` asks for more than one device, else one
Mirrored and multi-worker runs train with `loop.fit_distributed`. `--batch-size` stays the global
number of streams B: each of the R replicas owns B/R contiguous streams (`data.replica_input`) and
its own carried state, so B must be divisible by R.

The strategy must be chosen before TensorFlow's first op: logical CPU devices and the collective
runtime of MultiWorkerMirroredStrategy are fixed when TensorFlow starts. What one fit knows about
its place in the job lives in a `Job` made by `start_job`, one per fit, never in module state.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import itertools
import shutil
import signal
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf
from tensorflow.python.eager import context

from charkeras.config import STRATEGIES
from charkeras.errors import RunDirError, WorkerLost, WorkersDisagree, require
from charkeras.train.distributed.cluster import (
    chief_task,
    cluster,
    is_chief_task,
    other_tasks,
    this_task,
    worker_count,
)
from charkeras.train.distributed.rendezvous import wait_for_peers
from charkeras.train.run.names import CONFIG_FILE, LOCK_FILE


def configure_cpu_devices(count: int) -> None:
    """Split the CPU into `count` logical devices (0: leave it alone); must precede TensorFlow's
    first op."""
    if not count:
        return
    require(count >= 1, f"--cpu-devices must be >= 1 (got {count})")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu,
                                                   [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:  # TensorFlow already runs (a notebook, or fit called twice in one process)
        have = len(tf.config.list_logical_devices("CPU"))
        require(have == count,
                f"--cpu-devices {count}: TensorFlow already runs in this process with {have} "
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


def choose_strategy(strategy=None, cpu_devices: int = 0, cluster_timeout: float = 300.0):
    """A tf.distribute.Strategy from a name of STRATEGIES (None: "auto") or a Strategy given as is.

    Multi-worker: first waits up to `cluster_timeout` seconds for the other workers
    (`rendezvous`)."""
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    name = resolve_strategy_name(strategy, cpu_devices)
    if name == "multi-worker":
        require(cluster() is not None,
                "--strategy multi-worker needs TF_CONFIG naming the cluster and this worker's task "
                "(docs/guides/scaling-out.md)")
        require(cpu_devices <= 1,
                "--cpu-devices does not apply to --strategy multi-worker: each worker trains "
                "on its GPUs, or on its CPU as one replica")
        wait_for_peers(cluster_timeout)
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
    preemption notifier charkeras does not use), which swallows the signal: give SIGTERM and SIGINT
    back to the Python handlers (`interrupts`: stop after the step, with a checkpoint)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        handler = signal.getsignal(signum)
        if handler is not None:
            signal.signal(signum, handler)


def is_distributed(strategy) -> bool:
    """True for the strategies that train with the custom loop (mirrored, multi-worker)."""
    return isinstance(strategy,
                      (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy))


def is_multi_worker(strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def worker_index(strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(resolver.task_id or 0) if is_multi_worker(strategy) and resolver is not None else 0


def is_chief(strategy) -> bool:
    """Whether this process writes the run: worker 0 (or the task named "chief"); always, off a
    cluster."""
    return not is_multi_worker(strategy) or is_chief_task()


def replica_batch_size(strategy, batch_size: int) -> int:
    """B / R, the streams of one replica; an error when B is not divisible by the replica count
    R."""
    replicas = strategy.num_replicas_in_sync
    require(batch_size % replicas == 0,
            f"--batch-size {batch_size} is not divisible by the {replicas} replicas of this "
            f"strategy: each replica owns B/R streams; pass a multiple of {replicas}, e.g. "
            f"--batch-size {max(replicas, batch_size // replicas * replicas)}")
    return batch_size // replicas


def describe(strategy) -> str:
    replicas = strategy.num_replicas_in_sync
    if is_multi_worker(strategy):
        return (f"multi-worker: {worker_count()} workers, {replicas} replicas "
                f"(this is worker {worker_index(strategy)})")
    if is_distributed(strategy):
        return f"mirrored: {replicas} replicas ({', '.join(strategy.extended.worker_devices)})"
    return "one device"


def barrier(strategy) -> None:
    """Wait until every worker reaches this point (an all-reduce of nothing much)."""
    def replica_fn():
        return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM,
                                                              tf.ones([]))

    tf.function(lambda: strategy.run(replica_fn))()


# Collective failures: a peer that died, was restarted, or did not answer in time.
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
               tf.errors.CancelledError,
               tf.errors.AbortedError, tf.errors.InternalError, tf.errors.FailedPreconditionError)


_FITS = itertools.count()  # fits started in this process (`Job.number`)
# how long a worker waits for the others to leave a job together (they are a step apart at most)
LEAVE_TIMEOUT_MS = 60_000


def start_job(strategy, cpu_devices: int, out, cluster_timeout: float) -> Job:
    """The strategy (see `choose_strategy`) and this process's part in the job, for one fit."""
    return Job(choose_strategy(strategy, cpu_devices, cluster_timeout), Path(out),
               number=next(_FITS))


@dataclass
class Job:
    """What one fit knows about this process's place in its (possibly multi-worker) job."""

    strategy: tf.distribute.Strategy
    run_path: Path  # the job's run directory (the chief's), for messages on any worker
    waited: bool = False  # a non-chief worker already passed the start-up barrier (resume)
    # this process's n-th fit: every worker of a job runs the same fits in the same order, so the
    # number tells one job's keys in the coordination service's store from an earlier job's
    number: int = 0

    @property
    def multi_worker(self) -> bool:
        return is_multi_worker(self.strategy)

    @property
    def chief(self) -> bool:
        return is_chief(self.strategy)

    @property
    def distributed(self) -> bool:
        return is_distributed(self.strategy)

    def worker_lost(self, exc: tf.errors.OpError, where: str = "") -> WorkerLost:
        first_line = (exc.message or type(exc).__name__).strip().splitlines()[0][:300]
        if (self.run_path / CONFIG_FILE).is_file():
            then = (f"Restart every worker with: charkeras fit --resume {self.run_path} (the same "
                    "TF_CONFIG) to continue exactly from the last checkpoint")
        else:  # the chief had not created the run yet (or this worker cannot see it)
            then = "The run was not created here: once the cause is fixed, start every worker again"
        return WorkerLost(f"a worker of the multi-worker job stopped or cannot be reached "
                          f"({first_line}){where}. {then}")

    @contextlib.contextmanager
    def leaving_together(self):
        """Leave the job in step with the others when every worker ends at the same point: at the
        end of training, at a stop on a signal they agreed on, or when they found together that
        they disagree (`WorkersDisagree`).

        A collective returns on one worker before another has read this worker's part, and the
        chief also hosts TensorFlow's coordination service: a worker that exits as soon as its own
        last collective returns can fail a slower one with "the tasks have crashed". So each worker
        posts a key to the coordination service's store once its last collective is behind it, and
        waits (bounded) for the keys of the workers that depend on it before it exits. An error
        raised on this worker alone leaves at once (the others see it as a lost worker).
        """
        try:
            yield
        except BaseException as exc:
            if getattr(exc, "together", False):  # WorkersDisagree, or a stop all agreed on
                self._leave()
            raise
        self._leave()

    def _leave(self) -> None:
        if not self.multi_worker:
            return
        store = context.context()  # the coordination service's key-value store: no public API

        def key(task: tuple[str, int]) -> str:
            return f"charkeras/fit-{self.number}/left/{task[0]}-{task[1]}"

        try:
            if not self.chief:
                store.set_config_key_value(key(this_task()), "done")
            # the chief's store must outlive every wait; another worker may still read this one's
            for task in other_tasks():
                if task != chief_task():
                    store.get_config_key_value(key(task), timeout_in_ms=LEAVE_TIMEOUT_MS)
        except tf.errors.OpError:
            pass  # a worker went away meanwhile, or the chief left first: nothing left to serve

    @contextlib.contextmanager
    def lost_workers_as_errors(self):
        """A collective that fails because another worker stopped (a crash, a kill, an error of its
        own) ends this worker with WorkerLost, one `error:` line, not a traceback."""
        try:
            yield
        except PEER_ERRORS as exc:
            if not self.multi_worker:
                raise
            raise self.worker_lost(exc) from None

    def worker_out(self, resume: bool) -> Path:
        """The run directory this process trains in: the job's run itself off a cluster and on the
        chief.

        A non-chief worker of a multi-worker job trains in a temporary directory removed when it
        exits, as TensorFlow's multi-worker guide prescribes: every worker runs the same saving code
        (the carried states are gathered inside it, a collective), but only the chief's files are
        kept. To resume, it first waits for the chief to open the run (its repairs), then copies the
        run there and resumes from the copy, so every worker makes the same decisions from the same
        checkpoint; the run directory must therefore be readable by every worker (a shared
        filesystem, or a copy at the same path) to resume.
        """
        if self.chief:
            return self.run_path
        index = worker_index(self.strategy)
        temp = Path(tempfile.mkdtemp(prefix=f"charkeras-worker{index}-"))
        atexit.register(shutil.rmtree, temp, True)
        if resume:
            # the chief has opened (and repaired) the run: see prepare_replicas
            barrier(self.strategy)
            self.waited = True
            if not (self.run_path / CONFIG_FILE).is_file():
                raise RunDirError(f"worker {index} cannot read the run {self.run_path} to resume "
                                  "it: every worker of a multi-worker job must see the run "
                                  "directory at the same path (a shared filesystem, or a copy of "
                                  "the chief's run directory)")
            try:
                shutil.copytree(self.run_path, temp, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns(".*.tmp", LOCK_FILE))
            except shutil.Error:
                # a file the chief moved meanwhile (an unreadable checkpoint set aside): it skips it
                # too
                pass
        return temp

    def prepare_replicas(self, config) -> int:
        """Check the run's options against the strategy before anything is written; returns b = B/R.

        Multi-worker: also the start-up barrier the non-chief workers wait at before they copy a run
        to resume (`worker_out`), reached by the chief once it has opened the run.
        """
        per_replica = replica_batch_size(self.strategy, config.data.batch_size)
        if self.multi_worker:
            require(not (config.train.time_budget and not config.train.max_steps),
                    "--time-budget cannot plan a multi-worker job (each worker would time itself): "
                    "pass --max-steps")
            if not self.waited:
                barrier(self.strategy)
            _check_same_options(self.strategy, config)
        return per_replica


def _check_same_options(strategy, config) -> None:
    """Every worker must build the same model on the same layout, or their collectives would not
    match: compare a fingerprint of the run's config (its vocabulary size included) before the model
        is built."""
    # 48 bits: exact
    mine = float(int(hashlib.sha256(config.to_json().encode()).hexdigest()[:12], 16))

    def replica_fn(value):
        return tf.distribute.get_replica_context().all_gather(value[None], axis=0)

    gathered = tf.function(
        lambda value: strategy.run(replica_fn, args=(value,)))(tf.constant(mine, tf.float64))
    if len(set(strategy.experimental_local_results(gathered)[0].numpy().tolist())) != 1:
        raise WorkersDisagree("the workers were not started with the same corpus and options "
                              "(their configs differ): start every worker with the same command, "
                              "TF_CONFIG aside")
