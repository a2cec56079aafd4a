"""Data-parallel training speed: one device (`model.fit`) against MirroredStrategy (the custom loop).

Usage: python tools/bench_dataparallel.py [--units 256] [--layers 2] [--batch 64] [--seq-len 100]
                                          [--steps 20] [--warmup 3] [--rounds 2] [--modes one,mirrored1,mirrored2]

Modes, each in a fresh process (devices are fixed when TensorFlow starts), alternated per round:
  one        --strategy one: `model.fit` on the whole batch B, as `charkeras fit` trains by default
  mirrored1  --strategy mirrored on one CPU device: the distributed loop's own cost, no parallelism
  mirrored2  --strategy mirrored --cpu-devices 2: 2 replicas of B/2 streams on 2 logical CPU devices
On a GPU machine, mirrored2 uses the visible GPUs instead of logical CPUs. The same global batch, the
same model (charkeras's training model and optimizer) and random ids; `warmup` steps (tracing included)
are not timed. Prints ms/step and chars/s per mode (mean over rounds) and the machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, sys, time
args = json.loads(sys.argv[1])
from charkeras.threads import configure_training_threads
configure_training_threads()
from charkeras.train.distributed.strategy import choose_strategy
mode = args["mode"]
strategy = choose_strategy("one" if mode == "one" else "mirrored", cpu_devices=2 if mode == "mirrored2" else 1)
import keras, numpy as np
from charkeras.config import CharConfig
from charkeras.data.pipeline import layout_dataset
from charkeras.data.replica_input import distributed_batches
from charkeras.data.streams import StreamLayout
from charkeras.machine import cpu_name
from charkeras.model.networks import build_training_model
from charkeras.train.distributed.loop import make_train_step
from charkeras.train.optimizers import make_optimizer

b, t, steps, warmup = args["batch"], args["seq_len"], args["steps"], args["warmup"]
ids = np.random.default_rng(0).integers(2, 80, b * t * (steps + warmup + 1) + 1).astype(np.uint8)
layout = StreamLayout.for_length(len(ids), b, t)
cfg = CharConfig().replace(model={"vocab_size": 80, "units": args["units"], "layers": args["layers"],
                                  "embedding_dim": 64, "dropout": 0.0})
replicas = strategy.num_replicas_in_sync
with strategy.scope():
    model = build_training_model(cfg.model, b // replicas, t, seed=1)
    optimizer = make_optimizer(cfg.train, 1000)
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    optimizer.build(model.trainable_variables)
if mode == "one":
    model.fit(layout_dataset(ids, layout).take(warmup), verbose=0)
    data = layout_dataset(ids, layout).skip(warmup).take(steps)
    start = time.perf_counter()
    model.fit(data, verbose=0)
    seconds = time.perf_counter() - start
else:
    step = make_train_step(model, strategy, b * t)
    batches = iter(distributed_batches(strategy, ids, layout, 0, warmup + steps))
    for _ in range(warmup):
        float(strategy.experimental_local_results(step(next(batches)))[0])
    start = time.perf_counter()
    for _ in range(steps):
        float(strategy.experimental_local_results(step(next(batches)))[0])
    seconds = time.perf_counter() - start
print(json.dumps({"mode": mode, "replicas": replicas, "ms_per_step": 1000 * seconds / steps,
                  "chars_per_s": b * t * steps / seconds, "cpu": cpu_name()}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--modes", default="one,mirrored1,mirrored2")
    args = parser.parse_args()
    results: dict[str, list[dict]] = {}
    for _ in range(args.rounds):
        for mode in args.modes.split(","):
            child = {**vars(args), "mode": mode}
            out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(child)], capture_output=True, text=True,
                                 check=True, env=None)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            results.setdefault(mode, []).append(row)
            print(f"  {mode:10s} {row['ms_per_step']:8.1f} ms/step {row['chars_per_s']:10,.0f} chars/s", flush=True)
    print(f"{args.layers}x{args.units}, batch {args.batch} x seq-len {args.seq_len}, {args.steps} timed steps, "
          f"{args.rounds} round(s); {next(iter(results.values()))[0]['cpu']}")
    one = None
    for mode, rows in results.items():
        ms = sum(r["ms_per_step"] for r in rows) / len(rows)
        chars = sum(r["chars_per_s"] for r in rows) / len(rows)
        one = one or chars
        print(f"| {mode} | {rows[0]['replicas']} | {ms:.1f} | {chars:,.0f} | {chars / one:.2f} |")


if __name__ == "__main__":
    main()
