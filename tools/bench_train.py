"""Training throughput, side by side: charkeras `fit` against PyTorch's nn.LSTM on the same model and data.

Usage (the numbers mean something only on an otherwise idle machine):
    python tools/bench_train.py                      # 2x256 and 2x512, both charkeras layers vs PyTorch
    python tools/bench_train.py --quick              # smoke run: tiny models, a few steps
    python tools/bench_train.py --sizes 2x512 --impls fused --rounds 3 --steps 30
    python tools/bench_train.py --sweep              # scaling table: units, layers, seq-len, batch
    python tools/bench_train.py --sweep --json out.json
    python tools/bench_train.py --whole-job          # `charkeras fit` vs tools/torch_char_rnn.py, whole processes

charkeras side: `charkeras.train.fit` on a corpus file, i.e. the real training model, the real tf.data
pipeline, Adam with clipnorm and the cosine schedule, and the fit callbacks (per-step checks); the
timing comes from a Keras callback at the end of every batch. PyTorch side: Embedding -> nn.LSTM
(stacked, dropout between layers) -> Dropout -> Linear, the state carried across batches
(truncated BPTT), Adam, per-tensor gradient-norm clipping as Keras's clipnorm does, the loss read
back every step. Both train on the same random text (uniform over `--vocab` characters) cut into
the same stream layout (charkeras/data/streams.py). Every run is a fresh process (one framework per process,
its own thread settings, its own peak RSS); frameworks alternate within each round, in reversed
order on odd rounds. Throughput is characters per second over the steps after `--warmup`.

Threads: PyTorch gets `--threads` intra-op threads (the machine's cores by default). TensorFlow gets
what `charkeras fit` gives it (`--tf-threads charkeras`: charkeras.threads.configure_training_threads,
one thread per op and one inter-op thread per core), or its own default pools (`default`), or
`INTRA:INTER`. Restrict both to N cores with `taskset -c 0-(N-1) python tools/bench_train.py ...`.

--whole-job times whole jobs instead of steps: the `charkeras fit` command (import, corpus, tracing, one
epoch, validation, sample, checkpoint, report) against tools/torch_char_rnn.py doing the same job, each a
fresh process, alternated, wall clock from launch to exit and peak RSS. Default job: 2x256, dropout 0.5,
batch 64, seq-len 100, --val-frac 0.05, one epoch on the first 400,000 characters of data/tinyshakespeare.txt.

Needs PyTorch for the peer: `pip install -e .[bench]` (CPU build). `--no-torch` runs charkeras only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ALPHABET = "".join(chr(c) for c in range(0x21, 0x7F))  # 94 printable ASCII characters
SWEEP = {"units": [128, 256, 512, 1024], "layers": [1, 2, 3], "seq_len": [50, 100, 200], "batch": [16, 32, 64, 128]}
SWEEP_QUICK = {"units": [16, 32], "layers": [1, 2], "seq_len": [10, 20], "batch": [4, 8]}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="2x256,2x512", help="LAYERSxUNITS, comma separated")
    p.add_argument("--impls", default="keras,fused",
                   help="charkeras LSTM kernels to time (keras, fused, auto; fused:feature or fused:row force the "
                        "fused layer's layout, which fused alone times at start)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--embedding-dim", type=int, default=64)
    p.add_argument("--vocab", type=int, default=65, help="distinct characters in the random text")
    p.add_argument("--dropout", type=float, default=None, help="[default: 0.3; 0.5 with --whole-job]")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--steps", type=int, default=20, help="timed steps per run")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (tracing, allocation)")
    p.add_argument("--threads", type=int, default=None, help="PyTorch intra-op threads [default: cores]")
    p.add_argument("--tf-threads", default="charkeras", help="charkeras, default, or INTRA:INTER")
    p.add_argument("--no-torch", action="store_true", help="time charkeras only")
    p.add_argument("--sweep", action="store_true",
                   help="vary units, layers, seq-len and batch one at a time around --sizes' first entry")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1x32 and 2x32 models, batch 8, seq 20, 3 steps (with --sweep: a tiny grid)")
    p.add_argument("--whole-job", action="store_true",
                   help="time whole processes: `charkeras fit` against tools/torch_char_rnn.py (see above)")
    p.add_argument("--corpus", type=Path, default=REPO / "data" / "tinyshakespeare.txt",
                   help="--whole-job's corpus [default: data/tinyshakespeare.txt]")
    p.add_argument("--corpus-chars", type=int, default=400_000,
                   help="--whole-job uses this many characters from the corpus's start (0: all)")
    p.add_argument("--epochs", type=int, default=1, help="--whole-job's epochs")
    p.add_argument("--json", type=Path, help="also write every run's result here")
    p.add_argument("--keras-steps-per-execution", type=int, default=1, metavar="N",
                   help="diagnostic: also time charkeras compiled with Keras's steps_per_execution=N, "
                        "whose difference is Keras's per-step call overhead (fit runs 1: see "
                        "docs/performance.md)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.threads is None:
        args.threads = len(os.sched_getaffinity(0))  # the cores this process (and taskset) allows
    # The whole job of issue 13 trains 2x256 with dropout 0.5 (the step benchmark's default is 0.3).
    args.whole_dropout = 0.5 if args.dropout is None else args.dropout
    args.dropout = 0.3 if args.dropout is None else args.dropout
    if args.whole_job and args.sizes == "2x256,2x512":
        args.sizes = "2x256"
    if args.quick:
        args.sizes, args.batch, args.seq_len, args.embedding_dim = "1x32,2x32", 8, 20, 8
        args.steps, args.warmup, args.rounds = 3, 1, 1
        args.corpus_chars = min(args.corpus_chars, 20_000) if args.corpus_chars else 20_000
    return args


# ---- children: one training run each ---------------------------------------------------------------
def random_text(spec: dict) -> tuple[str, float]:
    """The run's corpus (enough uniform random characters for the timed batches) and its val_frac."""
    import numpy as np

    b, t = spec["batch"], spec["seq_len"]
    n_train = b * t * (spec["warmup"] + spec["steps"]) + b + 1
    n_val = b * t + b + 1
    rng = np.random.default_rng(spec["seed"])
    chars = np.array(list(ALPHABET[:spec["vocab"]]))
    return "".join(chars[rng.integers(0, spec["vocab"], n_train + n_val)]), n_val / (n_train + n_val)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _result(spec: dict, marks: list[float], steps_per_mark: int = 1) -> dict:
    timed = marks[spec["warmup"]:spec["warmup"] + spec["steps"] + 1]
    seconds = (timed[-1] - timed[0]) / (len(timed) - 1) / steps_per_mark
    return {**spec, "step_ms": seconds * 1000, "chars_per_s": spec["batch"] * spec["seq_len"] / seconds,
            "peak_rss_mb": _peak_rss_mb()}


def run_charkeras(spec: dict) -> dict:
    import tensorflow as tf

    from charkeras.threads import configure_training_threads

    if spec["tf_threads"] == "charkeras":
        configure_training_threads()
    elif spec["tf_threads"] != "default":
        intra, inter = (int(n) for n in spec["tf_threads"].split(":"))
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    import keras

    from charkeras.config import CharConfig
    from charkeras.train.driver import fit

    class StepClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.marks = []

        def on_train_batch_begin(self, batch, logs=None):
            if not self.marks:
                self.marks.append(time.perf_counter())

        def on_train_batch_end(self, batch, logs=None):
            self.marks.append(time.perf_counter())

    # Keras's steps_per_execution (a diagnostic, --keras-steps-per-execution): the clock then marks
    # every N steps, so the text holds N times the steps and the marks count executions.
    per_execution = spec.get("steps_per_execution", 1)
    text, val_frac = random_text({**spec, "steps": spec["steps"] * per_execution,
                                  "warmup": spec["warmup"] * per_execution})
    impl, _, layout = spec["impl"].partition(":")  # e.g. fused:row forces the fused layer's layout
    config = CharConfig().replace(
        model={"units": spec["units"], "layers": spec["layers"], "embedding_dim": spec["embedding_dim"],
               "dropout": spec["dropout"], "lstm_impl": impl, "lstm_layout": layout or "auto"},
        data={"batch_size": spec["batch"], "seq_len": spec["seq_len"], "val_frac": val_frac},
        train={"epochs": 1, "checkpoint_every": 0, "sample_every": 0, "sample_len": 1, "val_every": 0,
               "seed": spec["seed"]},
    )
    clock = StepClock()
    compile_as_fit_does = keras.Model.compile

    def compile_with_steps_per_execution(model, *args, **kwargs):
        return compile_as_fit_does(model, *args, **kwargs, steps_per_execution=per_execution)

    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(keras.Model, "compile",
                                                                 compile_with_steps_per_execution):
        corpus = Path(tmp) / "random.txt"
        corpus.write_text(text, encoding="utf-8")
        fit(corpus, Path(tmp) / "run", config, verbose=0, cache_dir=Path(tmp) / "cache", callbacks=[clock])
    return _result(spec, clock.marks, per_execution)


def run_torch(spec: dict) -> dict:
    import numpy as np
    import torch

    from charkeras.data.streams import StreamLayout, stream_windows

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(spec["seed"])
    text, _ = random_text(spec)
    # Same characters as the charkeras run; ids 0 and 1 stay unused, as padding and unknown do there.
    ids = np.frombuffer(text.encode("ascii"), dtype=np.uint8).astype(np.int64) - 0x21 + 2
    vocab = spec["vocab"] + 2
    b, t = spec["batch"], spec["seq_len"]
    xs, ys = stream_windows(ids, StreamLayout.for_length(len(ids), b, t))

    class CharLSTM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(vocab, spec["embedding_dim"])
            self.lstm = torch.nn.LSTM(spec["embedding_dim"], spec["units"], num_layers=spec["layers"],
                                      dropout=spec["dropout"] if spec["layers"] > 1 else 0.0, batch_first=True)
            self.dropout = torch.nn.Dropout(spec["dropout"])  # charkeras has dropout after the last LSTM too
            self.logits = torch.nn.Linear(spec["units"], vocab)

        def forward(self, x, state):
            out, state = self.lstm(self.embedding(x), state)
            return self.logits(self.dropout(out)), state

    model = CharLSTM()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    state = tuple(torch.zeros(spec["layers"], b, spec["units"]) for _ in range(2))
    marks = [time.perf_counter()]
    for k in range(spec["warmup"] + spec["steps"]):
        x, y = torch.from_numpy(xs[k]), torch.from_numpy(ys[k])
        logits, state = model(x, state)
        state = tuple(s.detach() for s in state)
        loss = loss_fn(logits.reshape(-1, vocab), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for param in model.parameters():
            torch.nn.utils.clip_grad_norm_(param, 5.0)
        optimizer.step()
        loss.item()
        marks.append(time.perf_counter())
    return _result(spec, marks)


# ---- whole jobs: one process each ----------------------------------------------------------------------
def whole_job_commands(args, corpus: Path, out: Path) -> dict[str, list[str]]:
    size = sizes(args.sizes)[0]
    common = ["--layers", str(size["layers"]), "--units", str(size["units"]), "--dropout", str(args.whole_dropout),
              "--batch-size", str(args.batch), "--seq-len", str(args.seq_len), "--val-frac", "0.05",
              "--epochs", str(args.epochs)]
    charkeras = [str(Path(sys.executable).with_name("charkeras")), "fit", str(corpus), "--out", str(out), "--force",
                 "--log", "plain", *common]
    torch = [sys.executable, str(REPO / "tools" / "torch_char_rnn.py"), str(corpus), "--threads", str(args.threads),
             "--embedding-dim", str(args.embedding_dim), *common]
    return {"charkeras fit": charkeras, "PyTorch script": torch}


def time_process(command: list[str], env: dict) -> dict:
    """Wall clock from launch to exit and the peak RSS of one process (it must exit 0)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{output[-3000:]}")
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "output_tail": output[-400:]}


def whole_job(args) -> list[dict]:
    if not args.corpus.is_file():
        raise SystemExit(f"error: --corpus {args.corpus} is not a file")
    text = args.corpus.read_text(encoding="utf-8")
    text = text[:args.corpus_chars] if args.corpus_chars else text
    size = sizes(args.sizes)[0]
    print(f"whole job: {size['layers']}x{size['units']}, dropout {args.whole_dropout}, batch {args.batch}, "
          f"seq-len {args.seq_len}, {args.epochs} epoch(s) on {len(text):,} chars of {args.corpus.name}, "
          f"val-frac 0.05; {args.rounds} round(s), alternated", flush=True)
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text(text, encoding="utf-8")
        # A fresh data cache for every charkeras run, as a first fit of a new corpus has.
        for r in range(args.rounds):
            commands = list(whole_job_commands(args, corpus, Path(tmp) / "run").items())
            for name, command in commands if r % 2 == 0 else commands[::-1]:
                env = {**os.environ, "CHARKERAS_CACHE": str(Path(tmp) / f"cache-{r}")}
                res = {"job": name, "round": r + 1, **time_process(command, env)}
                results.setdefault(name, []).append(res)
                print(f"  round {r + 1}  {name:16s} {res['wall_s']:7.1f} s  peak RSS {res['peak_rss_mb']:6.0f} MB",
                      flush=True)
    ours, peer = (results[n] for n in ("charkeras fit", "PyTorch script"))
    ours_s, peer_s = (statistics.median(r["wall_s"] for r in runs) for runs in (ours, peer))
    ours_mb, peer_mb = (max(r["peak_rss_mb"] for r in runs) for runs in (ours, peer))
    print(f"\n| job | wall (median) | peak RSS |\n|---|---|---|\n| charkeras fit | {ours_s:.1f} s | {ours_mb:.0f} MB |"
          f"\n| PyTorch script | {peer_s:.1f} s | {peer_mb:.0f} MB |")
    print(f"\nspeed ratio (PyTorch wall / charkeras wall): {peer_s / ours_s:.2f}; "
          f"memory ratio (charkeras / PyTorch peak RSS): {ours_mb / peer_mb:.2f}")
    return [r for runs in results.values() for r in runs]


# ---- parent: alternate the runs, print the tables ---------------------------------------------------
def run_child(spec: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        raise SystemExit(f"{spec['framework']} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def contenders(args) -> list[dict]:
    runs = [{"framework": "charkeras", "impl": impl} for impl in args.impls.split(",")]
    if args.keras_steps_per_execution > 1:
        runs += [{**run, "steps_per_execution": args.keras_steps_per_execution} for run in runs]
    return runs + ([] if args.no_torch else [{"framework": "torch", "impl": "nn.LSTM"}])


def label(run: dict) -> str:
    if run["framework"] != "charkeras":
        return f"PyTorch {run['impl']}"
    per_execution = run.get("steps_per_execution", 1)
    return f"charkeras {run['impl']}" + (f" spe {per_execution}" if per_execution > 1 else "")


def measure(args, shape: dict, rounds: int) -> dict[str, list[dict]]:
    base = {"embedding_dim": args.embedding_dim, "vocab": args.vocab, "dropout": args.dropout,
            "steps": args.steps, "warmup": args.warmup, "threads": args.threads, "tf_threads": args.tf_threads,
            "seed": 1234, **shape}
    results: dict[str, list[dict]] = {}
    for r in range(rounds):
        order = contenders(args) if r % 2 == 0 else contenders(args)[::-1]
        for who in order:
            res = run_child({**base, **who})
            results.setdefault(label(who), []).append(res)
            print(f"  round {r + 1}  {label(who):20s} {res['chars_per_s']:9.0f} chars/s  "
                  f"{res['step_ms']:8.1f} ms/step  peak RSS {res['peak_rss_mb']:6.0f} MB", flush=True)
    return results


def mean(values) -> float:
    return statistics.fmean(values)


def print_summary(shape: dict, results: dict[str, list[dict]]) -> None:
    peer = results.get("PyTorch nn.LSTM")
    peer_rate = mean(r["chars_per_s"] for r in peer) if peer else None
    print(f"\n{shape['layers']}x{shape['units']}, batch {shape['batch']}, seq {shape['seq_len']}:")
    print(f"  {'':20s} {'chars/s (mean)':>15s} {'min..max':>17s} {'ratio to PyTorch':>17s} {'peak RSS MB':>12s}")
    for name, runs in results.items():
        rates = [r["chars_per_s"] for r in runs]
        ratio = f"{mean(rates) / peer_rate:.2f}" if peer_rate else "-"
        print(f"  {name:20s} {mean(rates):15.0f} {min(rates):8.0f}..{max(rates):<8.0f} {ratio:>17s} "
              f"{max(r['peak_rss_mb'] for r in runs):12.0f}")


def sizes(text: str) -> list[dict]:
    shapes = []
    for item in text.split(","):
        layers, units = item.lower().split("x")
        shapes.append({"layers": int(layers), "units": int(units)})
    return shapes


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        result = run_charkeras(spec) if spec["framework"] == "charkeras" else run_torch(spec)
        print(json.dumps(result))
        return
    fixed = {"batch": args.batch, "seq_len": args.seq_len}
    from charkeras.machine import cpu_name

    print(f"CPU: {cpu_name()}, {len(os.sched_getaffinity(0))} cores available.")
    print(f"threads: PyTorch {args.threads}; TensorFlow {args.tf_threads}. "
          f"Timed {args.steps} steps after {args.warmup} warm-up steps.")
    everything = []
    if args.whole_job:
        everything = whole_job(args)
    elif args.sweep:
        centre = {**sizes(args.sizes)[0], **fixed}
        rows = []
        for key, values in (SWEEP_QUICK if args.quick else SWEEP).items():
            for value in values:
                shape = {**centre, key: value}
                print(f"\n{key} = {value}: {shape}", flush=True)
                results = measure(args, shape, args.rounds)
                everything += [r for runs in results.values() for r in runs]
                rows.append((key, value, {name: mean(r["step_ms"] for r in runs) for name, runs in results.items()}))
        names = [label(c) for c in contenders(args)]
        print(f"\nms per step (mean of {args.rounds} round(s)), varying one of: units, layers, seq_len, batch "
              f"around {centre}")
        print("| varied | value | " + " | ".join(names) + (" | charkeras / PyTorch speed |" if not args.no_torch else " |"))
        print("|---|---|" + "---|" * (len(names) + (0 if args.no_torch else 1)))
        for key, value, ms in rows:
            cells = [f"{ms[n]:.1f}" if ms[n] < 100 else f"{ms[n]:.0f}" for n in names]
            speed = ""
            if not args.no_torch:
                best = min(ms[n] for n in names if n.startswith("charkeras") and " spe " not in n)
                speed = f" {ms['PyTorch nn.LSTM'] / best:.2f} |"
            print(f"| {key} | {value} | " + " | ".join(cells) + " |" + speed)
    else:
        for shape in sizes(args.sizes):
            shape = {**shape, **fixed}
            print(f"\n{shape['layers']}x{shape['units']}:", flush=True)
            results = measure(args, shape, args.rounds)
            everything += [r for runs in results.values() for r in runs]
            print_summary(shape, results)
    if args.json:
        args.json.write_text(json.dumps(everything, indent=2))


if __name__ == "__main__":
    main()
