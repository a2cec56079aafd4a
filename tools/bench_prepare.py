"""Measure corpus preparation (read, hash, vocabulary, encode, cache write) on a large synthetic corpus.

Usage: python tools/bench_prepare.py [--mb 100] [--unicode]

Builds a corpus of about --mb megabytes from tiny Shakespeare (each copy lightly mutated so the text is not
one repeated block; --unicode mixes in non-ASCII characters), then in a fresh subprocess times
`load_corpus` with a cold cache and again with a warm cache, printing wall time and peak RSS of each.
Target (issue #2): 100 MB prepared in under 60 s and under 2 GB RSS.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
from charkeras.text.id_cache import load_corpus
t = time.perf_counter()
c = load_corpus(sys.argv[1], cache_dir=sys.argv[2])
n = len(c)
print(json.dumps({"seconds": time.perf_counter() - t, "chars": n, "vocab": len(c.vocab),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_corpus(path: Path, megabytes: int, unicode: bool) -> None:
    base = (REPO / "data" / "tinyshakespeare.txt").read_text(encoding="utf-8")
    if unicode:
        base = base.replace("the", "thé").replace("and", "и").replace("!", "！")
    rng = np.random.default_rng(0)
    with open(path, "w", encoding="utf-8") as f:
        written = 0
        while written < megabytes * 1_000_000:
            start = int(rng.integers(0, len(base) // 2))
            piece = base[start:] + base[:start]  # rotate, so copies differ
            f.write(piece)
            written += len(piece.encode("utf-8"))


def measure(corpus: Path, cache: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(corpus), str(cache)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--unicode", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus, cache = Path(tmp) / "corpus.txt", Path(tmp) / "cache"
        make_corpus(corpus, args.mb, args.unicode)
        size = corpus.stat().st_size / 1e6
        print(f"corpus: {size:.1f} MB ({'with' if args.unicode else 'no'} non-ASCII characters)")
        for label in ("cold cache", "warm cache"):
            r = measure(corpus, cache)
            print(f"{label:>10}: {r['seconds']:6.2f} s  peak RSS {r['peak_rss_mb']:7.1f} MB  "
                  f"{r['chars']:,} chars, vocab {r['vocab']}")


if __name__ == "__main__":
    main()
