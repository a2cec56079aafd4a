"""Fine-tuning from a base model against training from scratch, on texts the base never saw.

For each corpus it prints the held-out loss (the last --tail of the text, scored as
`charkeras evaluate MODEL --text CORPUS --tail 0.1` scores it) of:
  zero-shot   the base model as it is (characters it lacks are its unknown token);
  scratch     `charkeras fit CORPUS --time-budget M` with every default, in a subprocess;
  finetune    `charkeras fit CORPUS --init-from BASE --time-budget M` with the fine-tuning defaults
              (or --finetune-options), in a subprocess.
One training process runs at a time. The default corpora are made here, deterministically, from the
running Python's standard library (see `make_corpora`):
  english  the prose lines of pydoc_data.topics (the Python language reference's help topics, sorted
           by topic name; lines starting with a space, '*', '=' or '-' dropped: code, grammar and
           underlines), cut at the last paragraph break before 100,000 characters;
  code     Lib/argparse.py cut at the last blank line before 100,000 characters.

    taskset -c 0 .venv/bin/python tools/bench_finetune.py --corpus english --budgets 1,3,10
    taskset -c 0 .venv/bin/python tools/bench_finetune.py --corpus code --budgets 3
    .venv/bin/python tools/bench_finetune.py --corpus english --budgets 2 --modes finetune \\
        --finetune-options "--lr 1e-3"
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import sysconfig
import time
from functools import partial
from pathlib import Path

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


def fit_cli(corpus: Path, minutes: float, out: Path, tail: float, *extra: str) -> dict:
    """`charkeras fit CORPUS --time-budget M [extra]` in a subprocess (as a user runs it), then
    its best checkpoint scored on the held-out tail."""
    import charkeras

    started = time.monotonic()
    cli = str(Path(sys.executable).parent / "charkeras")
    command = [cli, "fit", str(corpus), "--time-budget", f"{minutes * 60:g}s", "--out", str(out),
               "--force", "--log", "plain", *extra]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {done.returncode}):\n"
                         f"{done.stderr[-3000:]}")
    printed = done.stdout
    wall = time.monotonic() - started
    config = json.loads((out / "config.json").read_text())
    steps = [line for line in printed.splitlines() if line.startswith("done: step ")]
    return {"loss": score(charkeras.load(out), corpus, tail), "wall_s": wall,
            "steps": steps[-1].split()[2] if steps else "-",
            "shape": f"{config['model']['layers']}x{config['model']['units']}",
            "layout": f"{config['data']['batch_size']}x{config['data']['seq_len']}",
            "lr": config["train"]["learning_rate"]}


def scratch(corpus: Path, minutes: float, out: Path, tail: float) -> dict:
    """`charkeras fit` with the defaults."""
    return fit_cli(corpus, minutes, out, tail)


def finetune(base: str, corpus: Path, minutes: float, out: Path, tail: float,
             options: list[str]) -> dict:
    """`charkeras fit CORPUS --init-from BASE` with the fine-tuning defaults, or `options`."""
    return fit_cli(corpus, minutes, out, tail, "--init-from", base, *options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_finetune"))
    parser.add_argument("--corpus", action="append", default=None,
                        help="english, code (made here) or NAME=PATH; repeatable "
                        "[default: english, code]")
    parser.add_argument("--base", default=str(ROOT / "saved_models" / "shakespeare"))
    parser.add_argument("--budgets", default="3", help="minutes, comma-separated")
    parser.add_argument("--modes", default="zero-shot,scratch,finetune")
    parser.add_argument("--finetune-options", default="",
                        help="fit options for the fine-tuned runs, e.g. '--lr 1e-3' "
                        "[default: none: the fine-tuning defaults]")
    parser.add_argument("--tail", type=float, default=0.1)
    parser.add_argument("--json", type=Path, help="also append each result as a JSON line here")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    made = make_corpora(args.work)
    corpora = {}
    for entry in args.corpus or ["english", "code"]:
        name, _, path = entry.partition("=")
        corpora[name] = Path(path) if path else made[name]
    modes = args.modes.split(",")
    budgets = [float(m) for m in args.budgets.split(",")]
    options = args.finetune_options.split()
    print(f"{'corpus':8} {'mode':9} {'min':>4} {'loss':>7} {'steps':>5} {'wall s':>6} "
          f"{'vs scratch':>10} {'vs zero-shot':>12}  notes")
    for name, path in corpora.items():
        rows = []
        if "zero-shot" in modes:
            rows.append(({"mode": "zero-shot"}, partial(zero_shot, args.base, path, args.tail)))
        for minutes in budgets:
            for mode in ("scratch", "finetune"):
                if mode not in modes:
                    continue
                out = args.work / "runs" / f"{mode}-{name}-{minutes:g}m"
                runner = (partial(scratch, path, minutes, out, args.tail) if mode == "scratch"
                          else partial(finetune, args.base, path, minutes, out, args.tail, options))
                rows.append(({"mode": mode, "min": minutes}, runner))
        losses = {}
        for row, run in rows:
            row = {"corpus": name, **row, **run()}
            losses[(row["mode"], row.get("min"))] = row["loss"]
            print_row(row, losses)
            if args.json:
                with args.json.open("a") as f:
                    f.write(json.dumps(row) + "\n")


def print_row(row: dict, losses: dict) -> None:
    """One result; a fine-tuned row also says how much lower its loss is than scratch's (same
    budget) and than the base's zero-shot loss."""
    gains = ["", ""]
    if row["mode"] == "finetune":
        for i, key in enumerate((("scratch", row["min"]), ("zero-shot", None))):
            if key in losses:
                gains[i] = f"{1 - row['loss'] / losses[key]:+.1%}"
    print(f"{row['corpus']:8} {row['mode']:9} {row.get('min', 0):4g} {row['loss']:7.4f} "
          f"{row.get('steps', '-')!s:>5} {row.get('wall_s', 0):6.0f} {gains[0]:>10} "
          f"{gains[1]:>12}  {row.get('shape', '')} {row.get('layout', '')} lr {row.get('lr', '-')}",
          flush=True)


if __name__ == "__main__":
    main()
