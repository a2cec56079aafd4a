"""Wall time of `charkeras fit --time-budget` against the budget, on an idle or a loaded machine.

Usage:
    python tools/bench_budget_wall.py --corpus data/tinyshakespeare.txt --budget 60s --parallel 2 \\
        --rounds 5 --busy 1

Each round starts `--parallel` fits at once (plus `--busy` busy-loop processes for the length of
the budget, to load the machine further) and prints each whole process's wall time, start-up and
exit included, against the budget: what a user's `time charkeras fit ...` would show. The budget's
target: within 2% or 10 s of it, whichever is larger, and never more than 5% early.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from charkeras.machine import cpu_name
from charkeras.train.planning import parse_duration

CHARKERAS = [sys.executable, "-m", "charkeras_cli.main"]


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def one_round(corpus: Path, budget: str, parallel: int, busy: int, work: Path) -> list[float]:
    seconds = parse_duration(budget)
    spinners = [multiprocessing.Process(target=_spin, args=(seconds,)) for _ in range(busy)]
    for spinner in spinners:
        spinner.start()
    began = time.monotonic()
    fits = [subprocess.Popen(CHARKERAS + ["fit", str(corpus), "--out", str(work / f"run{i}"),
                                          "--force", "--time-budget", budget, "--log", "plain"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for i in range(parallel)]
    try:
        walls = []
        for fit in fits:
            _, err = fit.communicate(timeout=seconds * 3 + 120)
            if fit.returncode:
                raise SystemExit(f"error: fit failed (exit {fit.returncode}): {err.strip()[-500:]}")
            walls.append(time.monotonic() - began)
        return walls
    finally:  # a failed or hung fit leaves nothing running
        for process in fits:
            if process.poll() is None:
                process.kill()
                process.wait()
        for spinner in spinners:
            spinner.terminate()
            spinner.join()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--budget", default="60s")
    parser.add_argument("--parallel", type=int, default=1, help="fits started at once")
    parser.add_argument("--busy", type=int, default=0, help="busy-loop processes beside them")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    budget = parse_duration(args.budget)
    print(f"CPU: {cpu_name()}; budget {args.budget}; {args.parallel} fit(s) at once, "
          f"{args.busy} busy loop(s)")
    walls = []
    with tempfile.TemporaryDirectory() as work:
        for round_number in range(1, args.rounds + 1):
            these = one_round(args.corpus, args.budget, args.parallel, args.busy, Path(work))
            walls += these
            print(f"round {round_number}: " + ", ".join(f"{w:.1f} s" for w in these))
    allowed = max(0.02 * budget, 10.0)
    within = sum(budget - 0.05 * budget <= w <= budget + allowed for w in walls)
    print(f"{len(walls)} fits: median {statistics.median(walls):.1f} s, min {min(walls):.1f} s, "
          f"max {max(walls):.1f} s for a {budget:.0f} s budget; {within} of {len(walls)} within "
          f"[-5%, +{allowed:.0f} s]")


if __name__ == "__main__":
    main()
