"""Generation throughput, side by side: in-graph `generate`, LiteRT step loop, tutorial loop, naive predict.

Usage:
    python tools/bench_generate.py            # 2x256 and 2x512, batch 1 and 64, 2000 chars (minutes; idle machine)
    python tools/bench_generate.py --quick    # smoke run: a 2x16 model, a few characters
    python tools/bench_generate.py --sizes 2x512 --batches 1 --chars 1000 --no-cli

Models have random weights (throughput does not depend on training) and the tiny-Shakespeare
vocabulary (65 characters). Every method is warmed up (traced) before it is timed, then timed in
--rounds rounds that alternate the methods; the tables give medians. Methods:
  in-graph generate   charkeras.load(export): batch 1 is the SavedModel `generate` signature (the whole
                      sampling loop in one tf.while_loop over the written-out step of
                      charkeras/model/step_functions.py); batch > 1 the same sampler around the `step` signature
  LiteRT step loop    charkeras.load(export, runtime="tflite"): float32 .tflite step + numpy sampling
  tutorial loop       the TensorFlow text-generation tutorial's way made as fast as it gets: a Python
                      loop calling a tf.function (charkeras's one-step model + tf.random.categorical,
                      ids in and out) once per character. The in-graph / tutorial ratio uses this one.
  tutorial as published  the tutorial's OneStep as written there: characters in and out (string
                      lookups inside the tf.function), Keras LSTM layers with return_state run on a
                      length-1 sequence, one call per character
  naive predict       a Python loop calling model.predict once per character (run on fewer characters)
Then, unless --no-cli, the wall-clock time of `charkeras generate --n CHARS` in a fresh process,
for the SavedModel and the LiteRT runtime (process start and imports included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny smoke configuration")
    p.add_argument("--sizes", default="2x256,2x512", help="LAYERSxUNITS, comma separated")
    p.add_argument("--batches", default="1,64", help="batch sizes, comma separated")
    p.add_argument("--chars", type=int, default=2000, help="characters per sample")
    p.add_argument("--naive-chars", type=int, default=40, help="characters for the naive predict loop")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds per method (medians are reported)")
    p.add_argument("--no-cli", action="store_true", help="skip the fresh-process CLI timings")
    p.add_argument("--tf-threads", type=int, default=0,
                   help="TensorFlow intra/inter-op threads for the in-process methods; 0 = TensorFlow's default")
    args = p.parse_args()
    if args.quick:
        args.sizes, args.batches, args.chars, args.naive_chars, args.rounds = "2x16", "1,4", 50, 5, 1
    args.sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    args.batches = [int(b) for b in args.batches.split(",")]
    return args


def build_export(layers: int, units: int, out: Path):
    import keras

    from charkeras.config import CharConfig
    from charkeras.exporting.writer import export_model
    from charkeras.model.networks import build_inference_model
    from charkeras.text.vocabulary import Vocabulary

    vocab = Vocabulary.from_text((REPO / "data" / "tinyshakespeare.txt").read_text(encoding="utf-8"))
    cfg = CharConfig().replace(model={"layers": layers, "units": units, "embedding_dim": 64,
                                      "vocab_size": len(vocab)})
    keras.utils.set_random_seed(0)
    step = build_inference_model(cfg.model)
    export_model(step, cfg, vocab, out)
    return step, vocab


def chars_per_second(run, chars: int) -> float:
    start = time.perf_counter()
    run(chars)
    return chars / (time.perf_counter() - start)


def tutorial_loop(step_model, vocab, batch: int):
    """The tutorial's loop made as fast as it can be: a tf.function per character over charkeras's
    one-step model, ids in and out (no string lookups)."""
    import tensorflow as tf

    from charkeras.sampling.graph_sampler import mask_special

    @tf.function
    def one_step(ids, state):
        out = step_model({"char_id": ids, "state": state}, training=False)
        logits = mask_special(out["logits"]) / 0.8
        return tf.random.categorical(logits, 1, dtype=tf.int32)[:, 0], out["state"]

    shape = [batch, *step_model.input["state"].shape[1:]]

    def run(n):
        ids, state = tf.fill([batch], int(vocab.encode("\n")[0])), tf.zeros(shape)
        for _ in range(n):
            ids, state = one_step(ids, state)
        return ids

    return run


def tutorial_as_published(step_model, vocab, batch: int):
    """The tutorial's OneStep as published (tensorflow.org/text/tutorials/text_generation): characters
    in and out of a tf.function (unicode_split + StringLookup both ways), a Keras model of recurrent
    layers with return_state run on a length-1 sequence, called with the states of the last call.
    Its GRU is an LSTM stack here, with the step model's weights."""
    import keras
    import tensorflow as tf

    from charkeras.model.networks import lstm_name

    layers = [step_model.get_layer(lstm_name(i)) for i in range(step_model.input["state"].shape[1] // 2)]
    embedding = keras.layers.Embedding(len(vocab), step_model.get_layer("embedding").output_dim)
    lstms = [keras.layers.LSTM(cell.units, return_sequences=True, return_state=True) for cell in layers]
    dense = keras.layers.Dense(len(vocab))
    embedding.build((None, None))
    embedding.set_weights(step_model.get_layer("embedding").get_weights())
    width = embedding.output_dim
    for lstm, cell in zip(lstms, layers):
        lstm.build((None, None, width))
        lstm.cell.set_weights(cell.get_weights())
        width = cell.units
    dense.build((None, width))
    dense.set_weights(step_model.get_layer("logits").get_weights())
    ids_from_chars = keras.layers.StringLookup(vocabulary=vocab.tokens[2:], mask_token="")
    chars_from_ids = keras.layers.StringLookup(vocabulary=vocab.tokens[2:], mask_token="", invert=True)
    skip = tf.constant([float("-inf"), float("-inf")] + [0.0] * (len(vocab) - 2))  # the tutorial masks [UNK]

    @tf.function
    def generate_one_step(inputs, states):
        input_ids = ids_from_chars(tf.strings.unicode_split(inputs, "UTF-8")).to_tensor()
        x = embedding(input_ids)
        new_states = []
        for lstm, (h, c) in zip(lstms, states):
            x, h, c = lstm(x, initial_state=[h, c])
            new_states.append((h, c))
        logits = dense(x)[:, -1, :] / 0.8 + skip
        predicted_ids = tf.squeeze(tf.random.categorical(logits, num_samples=1), axis=-1)
        return chars_from_ids(predicted_ids), new_states

    def run(n):
        chars = tf.constant(["\n"] * batch)
        states = [(tf.zeros([batch, cell.units]), tf.zeros([batch, cell.units])) for cell in layers]
        result = []
        for _ in range(n):
            chars, states = generate_one_step(chars, states)
            result.append(chars)
        return tf.strings.join(result)

    return run


def naive_predict_loop(step_model, vocab, batch: int):
    """model.predict once per character, sampling in numpy: what a first attempt usually looks like."""
    import numpy as np

    from charkeras.sampling.numpy_sampler import sample_next_numpy

    rng = np.random.default_rng(0)
    shape = (batch, *step_model.input["state"].shape[1:])

    def run(n):
        ids, state = np.full([batch], vocab.encode("\n")[0], np.int32), np.zeros(shape, np.float32)
        for _ in range(n):
            out = step_model.predict({"char_id": ids, "state": state}, verbose=0)
            noise = rng.gumbel(size=out["logits"].shape)
            ids, state = sample_next_numpy(out["logits"], 0.8, 0, noise), out["state"]
        return ids

    return run


def methods(export: Path, step_model, vocab) -> dict:
    """method name -> (batch -> (chars -> generate `chars` characters per row))."""
    from charkeras.runtime.loading import load

    saved, lite = load(export), load(export, runtime="tflite")
    return {
        "in-graph generate (SavedModel)": lambda b: lambda n: saved.generate(n, num_samples=b, seed=1),
        "LiteRT step loop (float32)": lambda b: lambda n: lite.generate(n, num_samples=b, seed=1),
        "tutorial loop (tf.function/char)": lambda b: tutorial_loop(step_model, vocab, b),
        "tutorial OneStep as published": lambda b: tutorial_as_published(step_model, vocab, b),
        "naive model.predict loop": lambda b: naive_predict_loop(step_model, vocab, b),
    }


def cli_seconds(export: Path, chars: int, runtime: str) -> float:
    """Wall-clock seconds of `charkeras generate` in a fresh process (median of 3)."""
    command = [sys.executable, "-m", "charkeras_cli.main", "generate", str(export), "--n", str(chars),
               "--seed", "1", "--runtime", runtime]
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return sorted(times)[1]


def main():
    args = parse_args()
    import tensorflow as tf

    from charkeras.threads import configure_generation_threads

    if args.tf_threads:
        configure_generation_threads(args.tf_threads)

    rows, cli_rows = [], []
    with tempfile.TemporaryDirectory(prefix="bench_generate.") as tmp:
        for layers, units in args.sizes:
            name = f"{layers}x{units}"
            export = Path(tmp) / name
            print(f"exporting a random {name} model ...", flush=True)
            step_model, vocab = build_export(layers, units, export)
            runs = {}
            for method, make in methods(export, step_model, vocab).items():
                chars = args.naive_chars if method.startswith("naive") else args.chars
                for batch in args.batches:
                    run = make(batch)
                    run(min(chars, 5))  # warm-up: traces graphs and allocates
                    runs[method, batch] = (run, chars, [])
            # Rounds alternate the methods, so a slow spell of the machine hits them all alike.
            for round_ in range(args.rounds):
                for (method, batch), (run, chars, speeds) in runs.items():
                    speeds.append(chars_per_second(run, chars) * batch)
                    print(f"  round {round_ + 1}: {name} {method} batch {batch}: {speeds[-1]:,.0f} chars/s",
                          flush=True)
            for method in dict.fromkeys(m for m, _ in runs):
                chars = runs[method, args.batches[0]][1]
                rows.append((name, method, chars, {b: statistics.median(runs[method, b][2]) for b in args.batches}))
            if not args.no_cli:
                for runtime in ("savedmodel", "tflite"):
                    cli_rows.append((name, runtime, cli_seconds(export, args.chars, runtime)))

    threads = args.tf_threads or "default"
    print(f"\ngeneration throughput, chars/s, median of {args.rounds} alternated rounds (TensorFlow "
          f"{tf.__version__}, {os.cpu_count()} CPUs, TensorFlow threads: {threads}; the CLI uses 1 thread "
          "for a single sample)")
    header = f"{'model':<7} {'method':<34} {'chars':>6}" + "".join(f" {f'batch {b}':>12}" for b in args.batches)
    print(header + "\n" + "-" * len(header))
    for name, method, chars, speeds in rows:
        print(f"{name:<7} {method:<34} {chars:>6}" + "".join(f" {speeds[b]:>12,.0f}" for b in args.batches))
    first = args.batches[0]
    for name in dict.fromkeys(r[0] for r in rows):
        by = {r[1]: r[3][first] for r in rows if r[0] == name}
        ratio = by["in-graph generate (SavedModel)"] / by["tutorial loop (tf.function/char)"]
        published = by["in-graph generate (SavedModel)"] / by["tutorial OneStep as published"]
        print(f"{name}: in-graph / tutorial loop at batch {first} = {ratio:.1f}x "
              f"(/ the tutorial's OneStep as published: {published:.1f}x)")
    for name, runtime, seconds in cli_rows:
        print(f"{name}: `charkeras generate --n {args.chars} --runtime {runtime}` wall-clock {seconds:.2f} s "
              "(fresh process, median of 3)")


if __name__ == "__main__":
    main()
