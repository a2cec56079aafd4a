"""Where an LSTM training step's time goes: the pieces of one layer, timed in isolation, TensorFlow vs PyTorch.

Usage (idle machine; every (framework, settings) runs in a fresh process, alternated over rounds):
    python tools/profile_lstm_ops.py --units 256,512 --rounds 3
    python tools/profile_lstm_ops.py --units 256 --tf-threads 1:2,0:0 --onednn 1,0

Pieces, for one layer with batch B, seq-len T, input width D (= units: the second layer):
    proj       the input projection, one [B*T, D] x [D, 4U] product (+ bias)
    rec_mm     T chained [B, U] x [U, 4U] products (each feeds a tanh of its first U columns to the next)
    fwd        the layer's forward pass (charkeras: lstm_sequence; PyTorch: nn.LSTM, one layer)
    fwd_bwd    forward and backward (gradients for the input, the state and the three weights)
TensorFlow pieces run inside tf.function (charkeras: fused, batch_groups 1 and 2); PyTorch eagerly, as
its training loop does. Prints the median milliseconds per call.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _median_ms(fn, reps: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def run_tf(spec: dict) -> dict:
    import numpy as np
    import tensorflow as tf

    intra, inter = (int(n) for n in spec["tf_threads"].split(":"))
    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    from charkeras.model.fused_lstm import lstm_sequence

    b, t, u = spec["batch"], spec["seq_len"], spec["units"]
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((b, t, u), dtype=np.float32))
    x2 = tf.reshape(x, [-1, u])
    h0 = tf.constant(rng.standard_normal((b, u), dtype=np.float32))
    c0 = tf.zeros([b, u])
    k = tf.Variable(rng.standard_normal((u, 4 * u), dtype=np.float32) * 0.05)
    rk = tf.Variable(rng.standard_normal((u, 4 * u), dtype=np.float32) * 0.05)
    bias = tf.Variable(np.zeros(4 * u, np.float32))
    reps = spec["reps"]
    out = {}

    @tf.function
    def proj():
        return tf.nn.bias_add(tf.matmul(x2, k), bias)

    @tf.function
    def rec_mm():
        h = h0
        for _ in range(t):
            h = tf.tanh(tf.matmul(h, rk)[:, :u])
        return h

    out["proj"] = _median_ms(lambda: proj().numpy(), reps)
    out["rec_mm"] = _median_ms(lambda: rec_mm().numpy(), reps)
    for groups in (1, 2):
        @tf.function
        def fwd(groups=groups):
            return lstm_sequence(x, h0, c0, k, rk, bias, batch_groups=groups)[0]

        @tf.function
        def fwd_bwd(groups=groups):
            with tf.GradientTape() as tape:
                tape.watch(x)
                seq = lstm_sequence(x, h0, c0, k, rk, bias, batch_groups=groups)[0]
                loss = tf.reduce_sum(seq * 0.01)
            return tape.gradient(loss, [x, k, rk, bias])

        out[f"fwd_g{groups}"] = _median_ms(lambda: fwd().numpy(), reps)
        out[f"fwd_bwd_g{groups}"] = _median_ms(lambda: [g.numpy() for g in fwd_bwd()], reps)
    if spec.get("xla"):
        @tf.function(jit_compile=True)
        def fwd_bwd_xla():
            with tf.GradientTape() as tape:
                tape.watch(x)
                seq = lstm_sequence(x, h0, c0, k, rk, bias, batch_groups=1)[0]
                loss = tf.reduce_sum(seq * 0.01)
            return tape.gradient(loss, [x, k, rk, bias])

        out["fwd_bwd_xla"] = _median_ms(lambda: [g.numpy() for g in fwd_bwd_xla()], reps)
    return out


def run_torch(spec: dict) -> dict:
    import torch

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    b, t, u = spec["batch"], spec["seq_len"], spec["units"]
    x = torch.randn(b, t, u)
    x2 = x.reshape(-1, u)
    h0 = torch.randn(1, b, u)
    c0 = torch.zeros(1, b, u)
    k = torch.randn(u, 4 * u) * 0.05
    bias = torch.zeros(4 * u)
    lstm = torch.nn.LSTM(u, u, batch_first=True)
    reps = spec["reps"]
    out = {}
    with torch.no_grad():
        out["proj"] = _median_ms(lambda: torch.addmm(bias, x2, k), reps)

        def rec_mm():
            h = h0[0]
            for _ in range(t):
                h = torch.tanh((h @ k)[:, :u])
            return h

        out["rec_mm"] = _median_ms(rec_mm, reps)
        out["fwd"] = _median_ms(lambda: lstm(x, (h0, c0)), reps)

    xg = x.clone().requires_grad_(True)

    def fwd_bwd():
        seq, _ = lstm(xg, (h0, c0))
        (seq * 0.01).sum().backward()

    out["fwd_bwd"] = _median_ms(fwd_bwd, reps)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--units", default="256,512")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--tf-threads", default="1:2", help="INTRA:INTER settings to try, comma separated")
    p.add_argument("--onednn", default="1", help="TF_ENABLE_ONEDNN_OPTS values to try, comma separated")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="PyTorch threads")
    p.add_argument("--xla", action="store_true", help="also time fwd_bwd under jit_compile")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(run_tf(spec) if spec["framework"] == "tf" else run_torch(spec)))
        return
    from charkeras.machine import cpu_name

    print(f"CPU: {cpu_name()}, {len(os.sched_getaffinity(0))} cores; batch {args.batch}, seq-len {args.seq_len}")
    configs = [{"framework": "tf", "tf_threads": th, "onednn": dn}
               for th in args.tf_threads.split(",") for dn in args.onednn.split(",")]
    if not args.no_torch:
        configs.append({"framework": "torch", "threads": args.threads})
    for units in (int(u) for u in args.units.split(",")):
        results: dict[str, list[dict]] = {}
        for r in range(args.rounds):
            for cfg in (configs if r % 2 == 0 else configs[::-1]):
                spec = {**cfg, "units": units, "batch": args.batch, "seq_len": args.seq_len, "reps": args.reps,
                        "xla": args.xla}
                env = dict(os.environ)
                if cfg["framework"] == "tf":
                    env["TF_ENABLE_ONEDNN_OPTS"] = cfg["onednn"]
                    name = f"TF {cfg['tf_threads']} onednn={cfg['onednn']}"
                else:
                    name = f"torch threads={cfg['threads']}"
                res = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], env=env,
                                     capture_output=True, text=True, check=False)
                if res.returncode != 0:
                    raise SystemExit(res.stderr[-3000:])
                results.setdefault(name, []).append(json.loads(res.stdout.strip().splitlines()[-1]))
        print(f"\nunits {units}: median ms per call over {args.rounds} round(s) (each a median of {args.reps})")
        for name, runs in results.items():
            cells = "  ".join(f"{key} {statistics.median(r[key] for r in runs):7.1f}" for key in runs[0])
            print(f"  {name:26s} {cells}", flush=True)


if __name__ == "__main__":
    main()
