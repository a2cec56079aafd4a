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
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from charkeras.machine import cpu_name


class Form(NamedTuple):
    """One way to compute C = A @ B: `product` gets A or A^T and B or B^T (as `a_transposed`, `b_transposed`
    say) and returns C, or C^T when `out_transposed`."""
    name: str
    a_transposed: bool
    b_transposed: bool
    product: Callable
    out_transposed: bool
    used: bool  # the form FusedLSTM uses


def _mm(**flags):
    def product(a, b):
        import tensorflow as tf
        return tf.matmul(a, b, **flags)
    return product


def _mm_swapped(a, b):  # B^T @ A^T = C^T, given A^T and B^T
    import tensorflow as tf
    return tf.matmul(b, a)


# role -> ((M, K, N) of C = A @ B as letters: b rows per recurrence, R = 10 b chunk rows, U units, G = 4U),
# forms). D = U (the second layer's input width).
PRODUCTS = {
    "recurrence, forward (per step)": ("bUG", [  # h @ W
        Form("h @ W", False, False, _mm(), False, False),
        Form("h @ (W^T)^T", False, True, _mm(transpose_b=True), False, False),
        Form("W^T @ h^T  (feature-major)", True, True, _mm_swapped, True, True),
    ]),
    "recurrence, backward (per step)": ("bGU", [  # dz @ W^T
        Form("dz @ W^T", False, True, _mm(transpose_b=True), False, False),
        Form("dz @ (W^T)", False, False, _mm(), False, False),
        Form("W @ dz^T  (feature-major)", True, True, _mm_swapped, True, True),
    ]),
    "input projection (per chunk)": ("RUG", [  # X @ K
        Form("X @ K", False, False, _mm(), False, False),
        Form("X @ (K^T)^T", False, True, _mm(transpose_b=True), False, True),
        Form("K^T @ X^T", True, True, _mm_swapped, True, False),
    ]),
    "weight gradient (per chunk)": ("URG", [  # X^T @ dZ
        Form("X^T @ dZ", True, False, _mm(transpose_a=True), False, False),
        Form("dZ^T @ X  (dW^T; dZ^T feature-major)", True, True, _mm_swapped, True, True),
        Form("X^T @ (dZ^T)^T", False, True, _mm(transpose_b=True), False, False),
    ]),
    "input gradient (per chunk)": ("RGU", [  # dZ @ K^T
        Form("dZ @ K^T", False, True, _mm(transpose_b=True), False, False),
        Form("dZ @ (K^T)", False, False, _mm(), False, False),
        Form("K @ dZ^T  (feature-major)", True, True, _mm_swapped, True, True),
    ]),
}


def operands(dims: str, rows: int, units: int, rng):
    """Random A [M, K] and B [K, N] for a role's letters; and its flops."""
    size = {"b": rows, "R": 10 * rows, "U": units, "G": 4 * units}
    m, k, n = (size[d] for d in dims)
    return (rng.standard_normal((m, k), dtype="float32"), rng.standard_normal((k, n), dtype="float32"),
            2 * m * k * n)


def form_inputs(form: Form, a, b):
    return (a.T.copy() if form.a_transposed else a), (b.T.copy() if form.b_transposed else b)


def time_form(product, a, b, reps: int, rounds: int) -> float | None:
    """Seconds per product: `reps` products on distinct inputs (a + i, so none is merged with another)
    in one tf.function, minus the same function without the products; best of `rounds`. None when the
    products took no measurable time (tiny shapes, too few reps)."""
    import tensorflow as tf

    a, b = tf.constant(a), tf.constant(b)
    products = tf.function(lambda a, b: tf.add_n([tf.reduce_sum(product(a + float(i), b)[:1]) for i in range(reps)]))
    inputs_only = tf.function(lambda a, b: tf.add_n([tf.reduce_sum((a + float(i))[:1]) for i in range(reps)]))
    best, base = float("inf"), float("inf")
    for fn in (products, inputs_only):
        fn(a, b)
    for _ in range(rounds):
        t0 = time.perf_counter()
        products(a, b).numpy()
        best = min(best, time.perf_counter() - t0)
        t0 = time.perf_counter()
        inputs_only(a, b).numpy()
        base = min(base, time.perf_counter() - t0)
    return (best - base) / reps if best > base else None


def run(args) -> None:
    import numpy as np
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # each form is its own tf.function: retracing is intended
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "native")
    print(f"CPU: {cpu_name()}; oneDNN ISA: {isa}; TensorFlow {tf.__version__}; one thread per product; "
          f"rows per recurrence b = {args.rows}, chunk rows R = {10 * args.rows}")
    rng = np.random.default_rng(0)
    for units in args.units:
        print(f"\nunits {units}:")
        print(f"  {'product':33s} {'form':40s} {'GFLOP/s':>8s} {'/ best':>7s}")
        for role, (dims, forms) in PRODUCTS.items():
            a, b, flops = operands(dims, args.rows, units, rng)
            seconds = [time_form(form.product, *form_inputs(form, a, b), args.reps, args.rounds) for form in forms]
            speeds = [flops / t / 1e9 if t else float("nan") for t in seconds]
            best = max((v for v in speeds if not math.isnan(v)), default=float("nan"))
            for i, (form, speed) in enumerate(zip(forms, speeds)):
                mark = "* " if form.used else "  "
                print(f"  {role if i == 0 else '':33s} {mark + form.name:40s} {speed:8.1f} {speed / best:7.2f}")

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
