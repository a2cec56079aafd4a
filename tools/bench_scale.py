"""Measure how charkeras grows with the corpus: preparation, then `fit` up to its first training steps.

Usage: python tools/bench_scale.py [--mb 100,500,1000] [--units 256] [--keep DIR]

For each size, builds a synthetic corpus (tools/bench_prepare.py's generator: rotated, lightly varied
tiny Shakespeare), then in fresh processes:
  prepare   `load_corpus` with a cold cache: wall time and peak RSS;
  fit       `charkeras.fit` with a warm cache on a 2-layer model (batch 64 x 100), --max-steps 3 and one
            validation batch: seconds until the first training step starts and ends (the first step
            includes tracing), the whole run, and the process's peak RSS.
Targets (issue 12, at 500 MB): prepare < 60 s and < 1 GB peak RSS; first step < 30 s and < 1.5 GB.
Run it on an idle machine; it prints the CPU it ran on.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_prepare import make_corpus, measure  # a sibling script, not a package

FIT_CHILD = r"""
import json, resource, sys, time
started = time.perf_counter()
import keras
import charkeras
from charkeras.machine import cpu_name

marks = {}

class FirstStep(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        marks.setdefault("first_step_start", time.perf_counter() - started)

    def on_train_batch_end(self, batch, logs=None):
        marks.setdefault("first_step_end", time.perf_counter() - started)

config = charkeras.CharConfig().replace(
    model={"units": int(sys.argv[4]), "layers": 2, "dropout": 0.0},
    data={"batch_size": 64, "seq_len": 100, "val_batches": 1},
    train={"epochs": 1, "max_steps": 3, "sample_every": 0, "sample_len": 20, "checkpoint_every": 0})
charkeras.fit(sys.argv[1], out=sys.argv[2], config=config, cache_dir=sys.argv[3], verbose=0, callbacks=[FirstStep()])
marks["total"] = time.perf_counter() - started
marks["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
marks["cpu"] = cpu_name()
print(json.dumps(marks))
"""


def measure_fit(corpus: Path, run: Path, cache: Path, units: int) -> dict:
    out = subprocess.run([sys.executable, "-c", FIT_CHILD, str(corpus), str(run), str(cache), str(units)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", default="100,500,1000", help="Corpus sizes in MB, comma-separated.")
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--keep", default=None, help="Build corpora here (and keep them) instead of a temp dir.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        root.mkdir(parents=True, exist_ok=True)
        print(f"{'corpus':>9} | {'prepare (cold)':>24} | {'fit: first step starts / ends, total':>38} | peak RSS")
        for mb in (int(m) for m in args.mb.split(",")):
            corpus, cache = root / f"corpus-{mb}mb.txt", root / f"cache-{mb}"
            if not corpus.exists():
                make_corpus(corpus, mb, unicode=False)
            prepared = measure(corpus, cache)
            fitted = measure_fit(corpus, root / f"run-{mb}", cache, args.units)
            print(f"{corpus.stat().st_size / 1e6:7.0f} MB | {prepared['seconds']:7.1f} s {prepared['peak_rss_mb']:8.0f} MB RSS"
                  f" | {fitted['first_step_start']:7.1f} s / {fitted['first_step_end']:6.1f} s, "
                  f"{fitted['total']:6.1f} s total | {fitted['peak_rss_mb']:6.0f} MB   ({fitted['cpu']})",
                  flush=True)


if __name__ == "__main__":
    main()
