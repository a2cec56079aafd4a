"""How much of a generated text is copied verbatim from the training text.

Usage:
  python tools/memorization.py SAMPLE.txt [SAMPLE2.txt ...] [--train data/tinyshakespeare.txt --train-frac 0.9]
  python tools/memorization.py --model saved_models/shakespeare --n 2000 --temperature 0.8 --seed 7

For each length L (default 20 and 40) it prints the fraction of the sample's L-character substrings that
occur anywhere in the training text (by default the first 90% of tiny Shakespeare, the part the shipped
model was trained on). A model that generates rather than copies shows a small fraction at L=40. For
reference it prints the same fraction for an equally long piece of held-out real text (the last 10%).
"""

from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def copied_fraction(sample: str, train: str, length: int) -> float:
    """Fraction of the sample's substrings of `length` characters found verbatim in `train`."""
    grams = [sample[i:i + length] for i in range(len(sample) - length + 1)]
    if not grams:
        return 0.0
    seen = {g: (g in train) for g in set(grams)}
    return sum(seen[g] for g in grams) / len(grams)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples", nargs="*", help="Text files holding generated samples.")
    parser.add_argument("--train", default=str(REPO / "data" / "tinyshakespeare.txt"))
    parser.add_argument("--train-frac", type=float, default=0.9, help="Leading fraction of --train used.")
    parser.add_argument("--lengths", default="20,40")
    parser.add_argument("--model", help="Generate the sample with this model instead of reading files.")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    full = Path(args.train).read_text(encoding="utf-8")
    cut = int(len(full) * args.train_frac)
    train, held_out = full[:cut], full[cut:]
    lengths = [int(x) for x in args.lengths.split(",")]
    samples = {path: Path(path).read_text(encoding="utf-8") for path in args.samples}
    if args.model:
        from charkeras.runtime.loading import load

        model = load(args.model)
        samples[f"{args.model} T={args.temperature} seed={args.seed}"] = model.generate(
            args.n, temperature=args.temperature, seed=args.seed)
    if held_out:
        longest = max((len(s) for s in samples.values()), default=2000)
        samples["(held-out real text, for reference)"] = held_out[:longest]
    header = "".join(f"  copied@{n:<3}" for n in lengths)
    print(f"{'sample':<60}{'chars':>7}{header}")
    for name, text in samples.items():
        fractions = "".join(f"  {copied_fraction(text, train, n):>9.1%}" for n in lengths)
        print(f"{name[-60:]:<60}{len(text):>7}{fractions}")


if __name__ == "__main__":
    main()
