"""Fine-tuning from a base model against training from scratch, on texts the base never saw.

For each corpus it prints the held-out loss (the last --tail of the text, scored as
`charkeras evaluate MODEL --text CORPUS --tail 0.1` scores it) of:
  zero-shot   the base model as it is (characters it lacks are its unknown token);
  scratch     `charkeras fit CORPUS --time-budget M` with every default, in a subprocess;
  finetune    the base's weights on the merged vocabulary (charkeras.model.vocab_transfer), trained
              with model.fit for M minutes of wall clock, learning rate warmed up over --warmup
              steps
              then cosine-decayed over the budget's time (to --min-lr-frac), new optimizer.
One training process runs at a time. The default corpora are made here, deterministically, from the
running Python's standard library (see `make_corpora`):
  english  the prose lines of pydoc_data.topics (the Python language reference's help topics, sorted
           by topic name; lines starting with a space, '*', '=' or '-' dropped: code, grammar and
           underlines), cut at the last paragraph break before 100,000 characters;
  code     Lib/argparse.py cut at the last blank line before 100,000 characters.

    .venv/bin/python tools/bench_finetune.py --budgets 1,3,10 --work /tmp/bench_finetune
    .venv/bin/python tools/bench_finetune.py --corpus english --budgets 2 --lr 3e-4,1e-3,2e-3 \\
        --modes finetune --init frequency,fresh
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import keras

ROOT = Path(__file__).resolve().parent.parent


def make_corpora(work: Path) -> dict[str, Path]:
    """The two default corpora (module docstring), written under `work`."""
    import pydoc_data.topics

    topics = pydoc_data.topics.topics
    paragraphs = ["\n".join(line for line in topics[key].splitlines()
                            if line and not line.startswith((" ", "*", "=", "-")))
                  for key in sorted(topics)]
    english = "\n\n".join(paragraphs)
    source = (Path(sysconfig.get_paths()["stdlib"]) / "argparse.py").read_text(encoding="utf-8")
    out = {}
    for name, text in (("english", english), ("code", source)):
        path = work / f"{name}.txt"
        path.write_text(text[:text.rfind("\n\n", 0, 100_000)] + "\n", encoding="utf-8")
        out[name] = path
    return out


def tail_text(path: Path, tail: float) -> str:
    from charkeras.inspect.evaluation import split_tail

    return split_tail(path.read_text(encoding="utf-8"), tail)[1]


def score(model, path: Path, tail: float) -> float:
    from charkeras.inspect.evaluation import evaluate_model

    return evaluate_model(model, tail_text(path, tail))["nats_per_char"]


def zero_shot(base: str, corpus: Path, tail: float) -> dict:
    import charkeras

    return {"loss": score(charkeras.load(base), corpus, tail)}


def scratch(corpus: Path, minutes: float, out: Path, tail: float) -> dict:
    """`charkeras fit` with the defaults, then its best checkpoint scored."""
    import charkeras

    started = time.monotonic()
    cli = str(Path(sys.executable).parent / "charkeras")
    subprocess.run([cli, "fit", str(corpus), "--time-budget",
                    f"{minutes * 60:g}s", "--out", str(out), "--force"], check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.monotonic() - started
    config = json.loads((out / "config.json").read_text())
    return {"loss": score(charkeras.load(out), corpus, tail), "wall_s": wall,
            "shape": f"{config['model']['layers']}x{config['model']['units']}"}


def finetune(base_path: str, corpus: Path, minutes: float, lr: float, warmup: int, init: str,
             tail: float, dropout: float | None, min_lr_frac: float, cache: Path,
             batch_layout: tuple[int, int] | None = None) -> dict:
    """The base's weights trained on `corpus` for `minutes`, then scored on its tail."""
    from charkeras.config import CharConfig
    from charkeras.data.pipeline import make_dataset
    from charkeras.exporting.signatures import signature_functions
    from charkeras.model.carried_state import reset_states
    from charkeras.model.networks import build_training_model
    from charkeras.model.vocab_transfer import merge_vocabularies, remap_ids, start_weights
    from charkeras.model.weights import inference_model_from, set_layer_weights
    from charkeras.runtime.base_loading import load_base
    from charkeras.runtime.signature_model import SignatureCharModel
    from charkeras.text.id_cache import load_corpus
    from charkeras.train.sizing import LAYOUT_FIELDS, choose_sizes

    started = time.monotonic()
    base = load_base(base_path)
    text = load_corpus(corpus, cache_dir=cache)
    merged = merge_vocabularies(base.vocab, text.vocab)
    ids = remap_ids(text.ids, text.vocab, merged.vocab)
    n_train = int(len(ids) * (1.0 - tail))
    train_ids, val_ids = ids[:n_train], ids[n_train:]
    model_fields = {**base.shape(), "vocab_size": len(merged.vocab),
                    "dropout": base.model.dropout if dropout is None else dropout}
    config = CharConfig().replace(model=model_fields)
    if batch_layout:  # the layout asked for; else the one fit would choose for this corpus
        config = config.replace(data={"batch_size": batch_layout[0], "seq_len": batch_layout[1]})
    else:
        config, _ = choose_sizes(config, len(train_ids), len(val_ids), LAYOUT_FIELDS)
    b, t = config.data.batch_size, config.data.seq_len
    model = build_training_model(config.model, b, t, seed=config.train.seed)
    first = start_weights(base, merged, train_ids, init, config.train.seed)
    set_layer_weights(model, first, config.model)
    optimizer = keras.optimizers.Adam(lr, clipnorm=config.train.clipnorm)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=optimizer, loss=loss)
    dataset, layout = make_dataset(train_ids, b, t)
    clock = WallClockCosine(lr, warmup, minutes * 60, min_lr_frac)
    model.fit(dataset.repeat(), epochs=10**6, steps_per_epoch=layout.batches, verbose=0,
              callbacks=[clock, keras.callbacks.LambdaCallback(
                  on_epoch_begin=lambda *_: reset_states(model))])
    wall = time.monotonic() - started
    inference = inference_model_from(model, config.model)
    layers, units = config.model.layers, config.model.units
    functions = signature_functions(inference, merged.vocab, layers, units)
    char_model = SignatureCharModel(functions, merged.vocab, layers, units, None,
                                    corpus, "run", variables=inference.weights)
    return {"loss": score(char_model, corpus, tail), "wall_s": wall, "steps": clock.steps,
            "added": len(merged.added), "layout": f"{b}x{t}", "shape": f"{layers}x{units}"}


class WallClockCosine(keras.callbacks.Callback):
    """Linear warm-up over `warmup` steps, then cosine decay over the budget's wall-clock time (what
    fit's time-budget plan does in steps); stops when the budget is spent."""

    def __init__(self, peak: float, warmup: int, seconds: float, min_frac: float):
        super().__init__()
        self.peak, self.warmup, self.seconds, self.min_frac = peak, warmup, seconds, min_frac
        self.steps, self.start = 0, None

    def on_train_batch_begin(self, batch, logs=None):
        now = time.monotonic()
        self.start = self.start or now
        done = min((now - self.start) / self.seconds, 1.0)
        cosine = self.min_frac + (1 - self.min_frac) * 0.5 * (1 + math.cos(math.pi * done))
        warm = min((self.steps + 1) / self.warmup, 1.0) if self.warmup else 1.0
        self.model.optimizer.learning_rate = self.peak * warm * cosine

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if time.monotonic() - self.start >= self.seconds:
            self.model.stop_training = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_finetune"))
    parser.add_argument("--corpus", action="append", default=None,
                        help="english, code (made here) or NAME=PATH; repeatable "
                        "[default: english, code]")
    parser.add_argument("--base", default=str(ROOT / "saved_models" / "shakespeare"))
    parser.add_argument("--budgets", default="3", help="minutes, comma-separated")
    parser.add_argument("--modes", default="zero-shot,scratch,finetune")
    parser.add_argument("--lr", default="4e-3",
                        help="fine-tuning peak learning rates, comma-separated")
    parser.add_argument("--warmup", type=int, default=10, help="fine-tuning warm-up steps")
    parser.add_argument("--min-lr-frac", type=float, default=0.05)
    parser.add_argument("--init", default="frequency",
                        help="new-row inits (NEW_ROW_INITS), comma-separated")
    parser.add_argument("--dropout", type=float, default=None,
                        help="fine-tuning dropout [default: the base's]")
    parser.add_argument("--tail", type=float, default=0.1)
    parser.add_argument("--layout", default="16x100",
                        help="fine-tuning BxT; 'fit' for what fit chooses for the corpus")
    parser.add_argument("--json", type=Path, help="also append each result as a JSON line here")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    made = make_corpora(args.work)
    corpora = {}
    for entry in args.corpus or ["english", "code"]:
        name, _, path = entry.partition("=")
        corpora[name] = Path(path) if path else made[name]
    modes = args.modes.split(",")
    batch_layout = None if args.layout == "fit" else tuple(int(n) for n in args.layout.split("x"))
    budgets = [float(m) for m in args.budgets.split(",")]
    print(f"{'corpus':8} {'mode':9} {'min':>4} {'lr':>7} {'init':9} {'loss':>7} {'steps':>5} "
          f"{'wall s':>6}  notes")
    for name, path in corpora.items():
        rows = []
        if "zero-shot" in modes:
            rows.append(({"mode": "zero-shot"}, lambda: zero_shot(args.base, path, args.tail)))
        for minutes in budgets:
            if "scratch" in modes:
                out = args.work / "runs" / f"scratch-{name}-{minutes:g}m"
                rows.append(({"mode": "scratch", "min": minutes},
                             lambda m=minutes, o=out: scratch(path, m, o, args.tail)))
            if "finetune" in modes:
                for lr, init in itertools.product(args.lr.split(","), args.init.split(",")):
                    row = {"mode": "finetune", "min": minutes, "lr": float(lr), "init": init}
                    rows.append((row,
                                 lambda m=minutes, lr=float(lr), init=init: finetune(
                                     args.base, path, m, lr, args.warmup, init, args.tail,
                                     args.dropout,
                                     args.min_lr_frac, args.work / "cache", batch_layout)))
        for row, run in rows:
            row = {"corpus": name, **row, **run()}
            print(f"{name:8} {row['mode']:9} {row.get('min', 0):4g} {row.get('lr', 0):7.1e} "
                  f"{row.get('init', '-'):9} {row['loss']:7.4f} {row.get('steps', '-')!s:>5} "
                  f"{row.get('wall_s', 0):6.0f}  {row.get('shape', '')} {row.get('layout', '')}",
                  flush=True)
            if args.json:
                with args.json.open("a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
