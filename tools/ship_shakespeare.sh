#!/usr/bin/env bash
# Exports the trained Shakespeare run to saved_models/shakespeare and prints everything
# docs/guides/shipped-model.md reports: the card, the standard-split evaluation with the n-gram
# baseline, the samples (written to docs/samples/) with their memorization fractions, and the
# interpretable-cell table; then regenerates the pictures in docs/ from the new export.
# Usage: tools/ship_shakespeare.sh [RUN_DIR]      (after tools/train_shakespeare.sh)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
run="${1:-$here/runs/shakespeare}"
model="$here/saved_models/shakespeare"
cd "$here"
charkeras export "$run" --out "$model" --force
du -sh "$model" "$model"/1 "$model"/*.tflite
charkeras info "$model"
charkeras evaluate "$model" --text data/tinyshakespeare.txt --tail 0.1 --baseline ngram
mkdir -p docs/samples
for t in 1.0 0.8 0.5 0; do
  charkeras generate "$model" --n 2000 --temperature "$t" --seed 7 > "docs/samples/temperature-$t.txt"
done
python tools/memorization.py docs/samples/temperature-*.txt
charkeras cells "$model" --text data/tinyshakespeare.txt --out /tmp/charkeras-cells.html
python tools/screenshots.py
