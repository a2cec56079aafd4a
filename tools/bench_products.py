"""Which operand layout oneDNN runs fastest, for every matrix product of one FusedLSTM layer, on this CPU.

Usage (idle machine):
    python tools/bench_products.py                       # units 256 and 512, this CPU's own kernels
    python tools/bench_products.py --isa AVX2            # the same with oneDNN capped to AVX2 (emulates an AVX2-only CPU)
    python tools/bench_products.py --units 512 --rows 32 --reps 50

Each product of the layer (rows b = batch / batch groups per recurrence, chunk rows R = 10 b, D = U) can be
written several ways that give the same numbers: with a weight stored transposed, or computing the
transposed result. TensorFlow hands each form to oneDNN's sgemm with different transpose flags, and
oneDNN's speed for them differs by up to 2x, differently per instruction set (AVX2 vs AVX-512) and shape.
This prints GFLOP/s of each form, single-threaded as `fit` runs its ops, and marks the form `FusedLSTM`
uses (`*`); the last column is that form's speed relative to the fastest one. A CPU kind where the marked
form falls well below 1.00 is one where charkeras/model/fused_lstm.py's layout should be re-measured.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


# role -> [(form name, builder, used by FusedLSTM)]. A builder takes (rows, units, rng) and returns
# (function of two tensors, the two tensors, flops). Shapes: h [b, U], W [U, 4U], dz [b, 4U]; X [R, D].
def _forms():
    def mk(a_shape, b_shape, op, flop_dims):
        def build(b, u, rng):
            dims = {"b": b, "R": 10 * b, "U": u, "G": 4 * u}
            a = rng.standard_normal([dims[d] for d in a_shape], dtype="float32")
            w = rng.standard_normal([dims[d] for d in b_shape], dtype="float32")
            m, k, n = (dims[d] for d in flop_dims)
            return op, a, w, 2 * m * k * n
        return build

    import tensorflow as tf
    mm = tf.matmul
    return {
        "recurrence, forward (per step)": [
            ("h @ W", mk("bU", "UG", lambda a, w: mm(a, w), "bUG"), False),
            ("h @ (W^T)^T", mk("bU", "GU", lambda a, w: mm(a, w, transpose_b=True), "bUG"), False),
            ("W^T @ h^T  (feature-major)", mk("Ub", "GU", lambda a, w: mm(w, a), "bUG"), True),
        ],
        "recurrence, backward (per step)": [
            ("dz @ W^T", mk("bG", "UG", lambda a, w: mm(a, w, transpose_b=True), "bGU"), False),
            ("dz @ (W^T)", mk("bG", "GU", lambda a, w: mm(a, w), "bGU"), False),
            ("W @ dz^T  (feature-major)", mk("Gb", "UG", lambda a, w: mm(w, a), "bGU"), True),
        ],
        "input projection (per chunk)": [
            ("X @ K", mk("RU", "UG", lambda a, w: mm(a, w), "RUG"), False),
            ("X @ (K^T)^T", mk("RU", "GU", lambda a, w: mm(a, w, transpose_b=True), "RUG"), True),
            ("K^T @ X^T", mk("UR", "GU", lambda a, w: mm(w, a), "RUG"), False),
        ],
        "weight gradient (per chunk)": [
            ("X^T @ dZ", mk("RU", "RG", lambda a, d: mm(a, d, transpose_a=True), "URG"), False),
            ("dZ^T @ X  (dW^T; dZ^T feature-major)", mk("RU", "GR", lambda a, d: mm(d, a), "URG"), True),
            ("X^T @ (dZ^T)^T", mk("UR", "GR", lambda a, d: mm(a, d, transpose_b=True), "URG"), False),
        ],
        "input gradient (per chunk)": [
            ("dZ @ K^T", mk("RG", "UG", lambda d, w: mm(d, w, transpose_b=True), "RGU"), False),
            ("dZ @ (K^T)", mk("RG", "GU", lambda d, w: mm(d, w), "RGU"), False),
            ("K @ dZ^T  (feature-major)", mk("GR", "UG", lambda d, w: mm(w, d), "RGU"), True),
        ],
    }


def time_form(op, a, w, reps: int, rounds: int) -> float:
    """Seconds per product: `reps` products on distinct inputs (a + i, so none is merged with another)
    in one tf.function, minus the same function without the products; best of `rounds`."""
    import tensorflow as tf

    a, w = tf.constant(a), tf.constant(w)
    products = tf.function(lambda a, w: tf.add_n([tf.reduce_sum(op(a + float(i), w)[:1]) for i in range(reps)]))
    inputs_only = tf.function(lambda a, w: tf.add_n([tf.reduce_sum((a + float(i))[:1]) for i in range(reps)]))
    best, base = float("inf"), float("inf")
    for fn in (products, inputs_only):
        fn(a, w)
    for _ in range(rounds):
        t0 = time.perf_counter()
        products(a, w).numpy()
        best = min(best, time.perf_counter() - t0)
        t0 = time.perf_counter()
        inputs_only(a, w).numpy()
        base = min(base, time.perf_counter() - t0)
    return max(best - base, 1e-9) / reps


def run(args) -> None:
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "native")
    print(f"CPU: {cpu_model()}; oneDNN ISA: {isa}; TensorFlow {tf.__version__}; one thread per product; "
          f"rows per recurrence b = {args.rows}, chunk rows R = {10 * args.rows}")
    rng = np.random.default_rng(0)
    for units in args.units:
        print(f"\nunits {units}:")
        print(f"  {'product':33s} {'form':40s} {'GFLOP/s':>8s} {'/ best':>7s}")
        for role, forms in _forms().items():
            speeds = []
            for name, build, used in forms:
                op, a, w, flops = build(args.rows, units, rng)
                speeds.append((name, flops / time_form(op, a, w, args.reps, args.rounds) / 1e9, used))
            best = max(s for _, s, _ in speeds)
            for name, speed, used in speeds:
                print(f"  {role:33s} {('* ' if used else '  ') + name:40s} {speed:8.1f} {speed / best:7.2f}")
                role = ""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--units", type=lambda s: [int(u) for u in s.split(",")], default=[256, 512],
                   help="comma separated [default: 256,512]")
    p.add_argument("--rows", type=int, default=32, help="batch rows per recurrence [default: 32: batch 64, 2 groups]")
    p.add_argument("--reps", type=int, default=30, help="products per timing")
    p.add_argument("--rounds", type=int, default=5, help="timings per form (the best counts)")
    p.add_argument("--isa", default=None,
                   help="cap oneDNN's instruction set (e.g. AVX2, AVX512_CORE): reruns this in a child process")
    args = p.parse_args(argv)
    if args.isa:
        env = {**os.environ, "ONEDNN_MAX_CPU_ISA": args.isa}
        child = [f"--units={','.join(map(str, args.units))}", f"--rows={args.rows}", f"--reps={args.reps}",
                 f"--rounds={args.rounds}"]
        return subprocess.call([sys.executable, __file__, *child], env=env)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
