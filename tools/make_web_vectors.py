"""Write tests/js/vectors.json: fixed test vectors for the JavaScript sampler, from charkeras's numpy sampler.

    .venv/bin/python tools/make_web_vectors.py [--out tests/js/vectors.json]

The node tests (tests/js/sampler.test.mjs) check charkeras/web/static/sampler.js against these numbers bit for bit:
Philox uniforms (float32), fold_in seeds, Gumbel noise (float64) and the ids sampled for several
temperature / top-k settings over random float32 logits, plus a whole generation loop over a toy
"model" whose logits are a fixed table row of the previous id.

Only numpy is needed (the numpy half of the sampler never imports TensorFlow). Every number is written
with Python's repr, which round-trips float64 (and hence float32) values exactly through JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from charkeras.sampling import numpy_sampler as sampler
from charkeras.sampling import philox

SEEDS = [[0, 0], [1, 0], [2, 0], [7, 0], [42, 0], [-1, 0], [-7, 0], [0, -1], [-5, -3],
         [2147483647, 0], [-2147483648, 0], [2147483647, -2147483648], [123456789, 987654321]]
SIZES = [1, 3, 4, 5, 8, 67, 130]
FOLD_DATA = [0, 1, 2, 3, 299, 65536, 2147483647, -1, -7, -2147483648]
TEMPERATURES = [0.0, 1e-9, 0.3, 0.5, 0.8, 1.0, 1.5, 3.0]
TOP_KS = [0, 1, 2, 3, 10, 65, 66, 67, 100]


def _floats(array) -> list[float]:
    return [float(x) for x in np.asarray(array).reshape(-1)]


def _ints(array) -> list[int]:
    return [int(x) for x in np.asarray(array).reshape(-1)]


def uniform_vectors() -> list[dict]:
    out = []
    for seed in SEEDS:
        for size in SIZES:
            seeds = np.array([seed], np.int32)
            out.append({"seed": seed, "size": size,
                        "words": _ints(philox.random_words(seeds, size)[0]),
                        "uniform": _floats(philox.stateless_uniform(seeds, size)[0])})
    return out


def fold_in_vectors() -> list[dict]:
    return [{"seed": seed, "data": FOLD_DATA,
             "out": [_ints(row) for row in philox.stateless_fold_in(np.array(seed, np.int32), FOLD_DATA)]}
            for seed in SEEDS]


def noise_vectors() -> list[dict]:
    out = []
    for s, first, count, vocab in [(0, 0, 3, 67), (7, 0, 2, 67), (-3, 5, 2, 11), (123, 1000, 1, 67),
                                   (2147483647, 0, 2, 5)]:
        noise = sampler.gumbel_noise((s, 0), first, count, 1, vocab)
        out.append({"seed": [s, 0], "first": first, "count": count, "vocab": vocab,
                    "noise": [_floats(noise[i, 0]) for i in range(count)]})
    return out


def _logit_sets(rng) -> list[tuple[str, np.ndarray]]:
    sets = []
    for i in range(4):
        sets.append((f"normal{i}", (rng.standard_normal(67) * 3).astype(np.float32)))
    # Coarse values: many exact ties, for top-k ties and argmax's first maximum.
    sets.append(("ties", (rng.integers(-4, 4, 67) * 0.5).astype(np.float32)))
    flat = np.zeros(67, np.float32)
    flat[[5, 9, 40]] = 2.0  # three-way tie for the greedy argmax (first wins)
    sets.append(("tied_max", flat))
    special = (rng.standard_normal(67)).astype(np.float32)
    special[[0, 1]] = 50.0  # padding/unknown best: must never be chosen
    sets.append(("special_best", special))
    sets.append(("small_vocab", np.array([9.0, 9.0, 0.25, -1.5, 0.25], np.float32)))
    sets.append(("large", (rng.standard_normal(67) * 40).astype(np.float32)))
    return sets


def sample_vectors() -> list[dict]:
    rng = np.random.default_rng(20240514)
    out = []
    for name, logits in _logit_sets(rng):
        vocab = len(logits)
        cases = []
        for seed in (0, 1, 7, -2):
            for i in (0, 1, 57):
                noise = sampler.gumbel_noise((seed, 0), i, 1, 1, vocab)[0]
                for temperature in TEMPERATURES:
                    for top_k in TOP_KS:
                        ids = sampler.sample_next_numpy(logits[None, :], temperature, top_k, noise)
                        cases.append([seed, i, temperature, top_k, int(ids[0])])
        out.append({"name": name, "logits": _floats(logits), "cases": cases,
                    "case_fields": ["seed", "index", "temperature", "top_k", "id"]})
    return out


def loop_vectors() -> list[dict]:
    """A toy model: logits after id c are table[c]; feed the prime, then sample n ids as every runtime does."""
    rng = np.random.default_rng(7)
    vocab = 20
    table = (rng.standard_normal((vocab, vocab)) * 2).astype(np.float32)
    out = []
    for prime, n, temperature, top_k, seed in [([5], 40, 0.8, 0, 3), ([2, 7, 7, 1], 40, 1.0, 5, -11),
                                               ([9], 30, 0.0, 0, 1), ([3], 40, 1.5, 0, 2147483647)]:
        logits = table[prime[-1]][None, :]
        noise = sampler.gumbel_noise((seed, 0), 0, n, 1, vocab)
        ids = []
        for i in range(n):
            next_id = int(sampler.sample_next_numpy(logits, temperature, top_k, noise[i])[0])
            ids.append(next_id)
            logits = table[next_id][None, :]
        out.append({"prime_ids": prime, "n": n, "temperature": temperature, "top_k": top_k, "seed": seed,
                    "ids": ids})
    return [{"vocab": vocab, "table": [_floats(row) for row in table], "runs": out}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "js" / "vectors.json")
    args = parser.parse_args()
    vectors = {
        "source": f"{philox.__name__} + {sampler.__name__} (numpy); regenerate with tools/make_web_vectors.py",
        "uniform": uniform_vectors(),
        "fold_in": fold_in_vectors(),
        "gumbel_noise": noise_vectors(),
        "sample_next": sample_vectors(),
        "generate_loop": loop_vectors(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(vectors, separators=(",", ":")) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
