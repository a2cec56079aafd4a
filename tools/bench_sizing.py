"""Sizing study: which model shape a time budget buys, on corpora of three sizes and alphabets.

Usage (pin to one core on a shared machine, and say so next to the numbers):
    python tools/bench_sizing.py corpora --dir /tmp/sizing/corpora
    taskset -c 1 python tools/bench_sizing.py run --corpus /tmp/sizing/corpora/python.txt \\
        --budget 5m --shapes 1x128b16,1x256b32,2x256b32,2x256b64,2x512b64 --out /tmp/sizing/runs \\
        --results /tmp/sizing/results.jsonl
    taskset -c 1 python tools/bench_sizing.py run --corpus ... --budget 5m --shapes default ...
    python tools/bench_sizing.py baseline --corpus /tmp/sizing/corpora/python.txt \\
        --results /tmp/sizing/results.jsonl
    python tools/bench_sizing.py table --results /tmp/sizing/results.jsonl

`corpora` writes three texts made deterministically from files installed on this machine (never the
project's Shakespeare): names.txt (~30 KB, Unicode character names from Python's unicodedata, one a
line: capitals, digits, hyphens), python.txt (~500 KB, the standard library's public top-level
modules of this Python in name order) and prose.txt (~3 MB, Vim's English help files in name
order, those about other scripts left out). `corpora --unseen` writes two texts the rule was not
fitted on, to check it: c.txt (~3 MB, the C headers under /usr/include in path order) and perl.txt
(~500 KB, Perl's own modules under /usr/share/perl, code and POD documentation, in path order).

`run` trains each shape with `charkeras fit CORPUS --time-budget B` (a fresh process each,
everything else the defaults; `default` leaves the shape to fit; `--budget none`: no budget, the
default epochs), then scores the best checkpoint
with `charkeras evaluate RUN --text CORPUS --tail 0.1`: nats/char on the held-out last 10%. It
appends one JSON line per run: corpus, budget, shape, parameters, steps, characters seen, wall
time, nats/char.
`baseline` appends the character n-gram's nats/char on the same split. `table` prints the results
as Markdown, per corpus and budget, with each shape's distance from the best and from the n-gram.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import sysconfig
import time
import unicodedata
from pathlib import Path

CHARKERAS = [sys.executable, "-m", "charkeras_cli.main"]
# A shape: layers x units, batch size; embedding 32 below 256 units, else 64; seq-len 100.
SHAPE = re.compile(r"(\d+)x(\d+)b(\d+)$")


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    print(f"{path}: {len(text):,} chars, {len(set(text))} distinct")


def make_corpora(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    names, code = [], 0x20
    while sum(map(len, names)) < 30_000:
        name = unicodedata.name(chr(code), "")
        if name and "CJK" not in name:
            names.append(name + "\n")
        code += 1
    _write(out / "names.txt", "".join(names))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    # Public modules only: the private ones include generated data (_sysconfigdata*).
    _write(out / "python.txt", _concatenate(sorted(stdlib.glob("[!_]*.py")), 500_000))
    vim_docs = sorted(Path("/usr/share/vim").glob("vim*/doc/*.txt"))
    _write(out / "prose.txt", _concatenate(filter(_mostly_ascii, vim_docs), 3_000_000))


def make_unseen_corpora(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "c.txt", _concatenate(sorted(Path("/usr/include").rglob("*.h")), 3_000_000))
    _write(out / "perl.txt", _concatenate(sorted(Path("/usr/share/perl").rglob("*.pm")), 500_000))


def _mostly_ascii(path: Path) -> bool:
    """Leaves out the help files about other scripts (digraph tables, Arabic, Hebrew...)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return sum(ord(c) > 126 for c in text) <= len(text) / 1000


def _concatenate(files, chars: int) -> str:
    parts, total = [], 0
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        parts.append(text)
        total += len(text)
        if total >= chars:
            break
    return "".join(parts)[:chars]


def shape_options(shape: str) -> list[str]:
    if shape == "default":
        return []
    match = SHAPE.match(shape)
    if not match:
        raise SystemExit(f"error: shape {shape!r} is not LAYERSxUNITSbBATCH (e.g. 2x256b64) "
                         "or default")
    layers, units, batch = map(int, match.groups())
    return ["--layers", str(layers), "--units", str(units), "--batch-size", str(batch),
            "--embedding-dim", "32" if units < 256 else "64", "--seq-len", "100"]


def run_one(corpus: Path, shape: str, budget: str, out: Path, extra: list[str]) -> dict:
    run_dir = out / f"{corpus.stem}-{budget}-{shape}"
    budget_options = [] if budget == "none" else ["--time-budget", budget]
    command = CHARKERAS + ["fit", str(corpus), "--out", str(run_dir), "--force", *budget_options,
                           "--log", "plain"] + shape_options(shape) + extra
    began = time.monotonic()
    fit = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.monotonic() - began
    (out / f"{run_dir.name}.log").write_text(fit.stdout + fit.stderr)
    if fit.returncode:
        raise SystemExit(f"error: {' '.join(command)} failed; see {run_dir}.log")
    score = evaluate(run_dir, corpus)
    config = json.loads((run_dir / "config.json").read_text())
    steps = _last_step(run_dir / "steps.csv", run_dir / "validations.csv")
    model, data = config["model"], config["data"]
    return {"corpus": corpus.stem, "chars": len(corpus.read_text(encoding="utf-8")),
            "budget": budget, "shape": shape, "layers": model["layers"], "units": model["units"],
            "embedding_dim": model["embedding_dim"], "dropout": model["dropout"],
            "batch_size": data["batch_size"], "seq_len": data["seq_len"],
            "lr": config["train"]["learning_rate"], "params": parameters(model),
            "steps": steps, "chars_seen": steps * data["batch_size"] * data["seq_len"],
            "wall_seconds": round(wall, 1), "nats": score, "sizing": config["train"].get("sizing"),
            "command": " ".join(command[2:])}


def parameters(model: dict) -> int:
    """Weights of embedding -> LSTM stack -> softmax (the fused LSTM's 4 gates, one bias each)."""
    vocab, emb, units = model["vocab_size"], model["embedding_dim"], model["units"]
    total, width = vocab * emb, emb
    for _ in range(model["layers"]):
        total += 4 * units * (width + units + 1)
        width = units
    return total + units * vocab + vocab


def _last_step(*csv_files: Path) -> int:
    last = 0
    for path in csv_files:
        rows = path.read_text().splitlines()[1:] if path.exists() else []
        last = max([last] + [int(row.split(",")[0]) for row in rows if row])
    return last


def evaluate(run_dir: Path, corpus: Path, baseline: bool = False) -> float:
    command = CHARKERAS + ["evaluate", str(run_dir), "--text", str(corpus), "--tail", "0.1",
                           "--json"]
    if baseline:
        command += ["--baseline", "ngram"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    return result["ngram" if baseline else "model"]["nats_per_char"]


def append(results: Path, row: dict) -> None:
    with results.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


def table(results: Path) -> None:
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    ngram = {row["corpus"]: row["nats"] for row in rows if row["shape"] == "ngram"}
    groups: dict[tuple, list] = {}
    for row in rows:
        if row["shape"] != "ngram":
            groups.setdefault((row["corpus"], row["budget"]), []).append(row)
    for (corpus, budget), group in groups.items():
        best = min(row["nats"] for row in group if row["shape"] != "default")
        print(f"\n{corpus} ({group[0]['chars']:,} chars), --time-budget {budget}, "
              f"n-gram {ngram.get(corpus, float('nan')):.3f}\n")
        print("| shape | params | steps | chars seen | seen/param | nats/char | vs best "
              "| vs n-gram |")
        print("|---|---|---|---|---|---|---|---|")
        base = ngram.get(corpus, float("nan"))
        for row in sorted(group, key=lambda r: r["nats"]):
            name = row["shape"] if row["shape"] != "default" else (
                f"default ({row['layers']}x{row['units']}b{row['batch_size']})")
            print(f"| {name} | {row['params']:,} | {row['steps']} | {row['chars_seen']:,} | "
                  f"{row['chars_seen'] / row['params']:.1f} | {row['nats']:.3f} | "
                  f"{100 * (row['nats'] / best - 1):+.1f}% | "
                  f"{100 * (row['nats'] / base - 1):+.1f}% |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("corpora", "run", "baseline", "table"))
    parser.add_argument("--dir", type=Path, default=Path("/tmp/sizing/corpora"))
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--budget", default="5m",
                        help="a --time-budget, or none: the default epochs, no budget")
    parser.add_argument("--shapes", default="1x128b16,1x256b32,2x256b32,2x256b64,2x512b64")
    parser.add_argument("--out", type=Path, default=Path("/tmp/sizing/runs"))
    parser.add_argument("--results", type=Path, default=Path("/tmp/sizing/results.jsonl"))
    parser.add_argument("--fit-option", action="append", default=[],
                        help="an extra option for every fit, e.g. --fit-option=--lr=0.003")
    parser.add_argument("--unseen", action="store_true",
                        help="corpora: the check corpora the rule was not fitted on")
    args = parser.parse_args(argv)
    if args.action == "corpora":
        return (make_unseen_corpora if args.unseen else make_corpora)(args.dir)
    if args.action == "table":
        return table(args.results)
    if args.corpus is None:
        parser.error(f"{args.action} needs --corpus")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.action == "baseline":
        run_dir = next((p for p in sorted(args.out.glob(f"{args.corpus.stem}-*")) if p.is_dir()),
                       None)
        if run_dir is None:
            parser.error(f"baseline needs a finished run on {args.corpus} under {args.out}")
        return append(args.results, {"corpus": args.corpus.stem, "budget": "-", "shape": "ngram",
                                     "nats": evaluate(run_dir, args.corpus, baseline=True)})
    for shape in args.shapes.split(","):
        append(args.results, run_one(args.corpus, shape, args.budget, args.out, args.fit_option))


if __name__ == "__main__":
    main()
