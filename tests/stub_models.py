"""Small stand-in models with the one-step interface (vocab, layers, units, zero_state, step).

`PlantedCellModel` is pure numpy: a few cells are set by hand to follow known text structure, the
rest are noise driven by the characters, so tests know exactly which cell a finder must report.
"""

from __future__ import annotations

import numpy as np

from charkeras.text.vocabulary import Vocabulary

QUOTE_CELL = (1, 5)  # (layer, unit): c is 1.5 inside double quotes, 0 outside
LINE_CELL = (0, 2)  # c grows by 0.04 per character and drops to 0 at a newline
DEPTH_CELL = (1, 1)  # c is 0.4 x bracket depth


class PlantedCellModel:
    def __init__(self, vocab: Vocabulary, layers: int = 2, units: int = 8, seed: int = 0,
                 quote_cell=QUOTE_CELL, line_cell=LINE_CELL, depth_cell=DEPTH_CELL):
        self.vocab, self.layers, self.units = vocab, layers, units
        self.quote_cell, self.line_cell, self.depth_cell = quote_cell, line_cell, depth_cell
        rng = np.random.default_rng(seed)
        v = len(vocab)
        self._noise = rng.normal(0.0, 0.5, size=(v, layers, units)).astype(np.float32)
        self._logits = rng.normal(0.0, 2.0, size=(v, v)).astype(np.float32)
        self._tokens = vocab.tokens

    def zero_state(self, batch: int) -> np.ndarray:
        return np.zeros((batch, 2 * self.layers, self.units), np.float32)

    def step(self, char_ids, state):
        char_ids = np.asarray(char_ids)
        c = state[:, 1::2].copy()  # [B, L, U]
        c = 0.6 * c + self._noise[char_ids]
        for b, cid in enumerate(char_ids):
            ch = self._tokens[cid]
            prev = state[b, 1::2]
            quote_on = prev[self.quote_cell] > 0.75
            c[b][self.quote_cell] = 1.5 * (quote_on != (ch == '"'))
            c[b][self.line_cell] = 0.0 if ch == "\n" else prev[self.line_cell] + 0.04
            depth = round(prev[self.depth_cell] / 0.4) + (ch in "([{") - (ch in ")]}")
            c[b][self.depth_cell] = 0.4 * max(depth, 0)
        h = 0.8 * np.tanh(c)
        new_state = np.empty_like(state)
        new_state[:, 0::2], new_state[:, 1::2] = h, c
        return self._logits[char_ids], new_state


def stub_vocab(text: str) -> Vocabulary:
    return Vocabulary.from_text(text)


TINY_TEXT = ('First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, "speak" (now).\n'
             * 60)


def make_tiny_run(out, epochs: int = 1):
    """Train a very small model for a few steps; returns the run directory."""
    from charkeras.config import CharConfig
    from charkeras.train.driver import fit

    corpus = out.parent / f"{out.name}-corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    config = CharConfig().replace(
        model={"units": 8, "layers": 2, "embedding_dim": 4, "dropout": 0.0},
        data={"batch_size": 4, "seq_len": 32, "val_frac": 0.2},
        train={"epochs": epochs, "checkpoint_every": 0, "sample_every": 10, "sample_len": 30},
    )
    fit(str(corpus), str(out), config, verbose=0)
    return out
