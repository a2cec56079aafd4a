"""Run a model over a text one character at a time and record what happens inside it.

For every character the trace keeps, after the model has read it:
- `cells[i, layer, unit]`: tanh(c), the cell state squashed the way the LSTM's output gate sees it;
- `hidden[i, layer, unit]`: h, the layer's output;
- the top-k guesses for the next character and their probabilities.

It needs only the one-step interface every charkeras model has (`charkeras.load` returns
one; tests pass small stand-ins): `.vocab`, `.layers`, `.units`, `.zero_state(batch)` and
`.step(char_ids [B] int32, state [B, 2L, U]) -> (logits [B, V], state)`, with the state laid out as
(h0, c0, h1, c1, ...). So it works the same on an export and on a training run directory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charkeras.errors import CorpusError
from charkeras.probability import softmax
from charkeras.text.vocabulary import PAD_ID, UNK_ID

KINDS = ("c", "h")  # "c" stands for tanh(c) everywhere below
KIND_LABELS = {"c": "tanh(c)", "h": "h"}


@dataclass(frozen=True)
class Trace:
    text: str
    ids: np.ndarray  # [N] int32, the ids the model read (unknown characters are UNK_ID)
    cells: np.ndarray  # [N, L, U] float32, tanh(c) after reading character i
    hidden: np.ndarray  # [N, L, U] float32, h after reading character i
    top_ids: np.ndarray  # [N, k] int32, most likely next characters after reading character i
    top_probs: np.ndarray  # [N, k] float32, their probabilities (softmax over the whole vocabulary)
    # [N] float32, probability given to the character that came next (NaN at the end)
    next_probs: np.ndarray
    tokens: list[str]  # vocabulary tokens, index = id

    @property
    def layers(self) -> int:
        return self.cells.shape[1]

    @property
    def units(self) -> int:
        return self.cells.shape[2]

    def head(self, n: int) -> Trace:
        """The first n characters (a page can show fewer characters than a finder analyses)."""
        next_probs = self.next_probs[:n].copy()
        next_probs[-1:] = np.nan  # its next character is cut off
        return Trace(self.text[:n], self.ids[:n], self.cells[:n], self.hidden[:n], self.top_ids[:n],
                     self.top_probs[:n], next_probs, self.tokens)

    def activations(self, kind: str) -> np.ndarray:
        """[N, L, U] activations of one kind: "c" for tanh(c), "h" for h."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        return self.cells if kind == "c" else self.hidden


def top_guesses(probs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids and probabilities of the k likeliest real characters, best first.

    Padding and unknown are never generated, so they are left out of the guesses (their probability
    still counts in the softmax: the shown numbers are the model's own)."""
    ranked = probs.copy()
    ranked[..., [PAD_ID, UNK_ID]] = -1.0
    k = min(k, probs.shape[-1] - 2)
    ids = np.argsort(-ranked, axis=-1, kind="stable")[..., :k].astype(np.int32)
    return ids, np.take_along_axis(probs, ids, axis=-1)


def trace(model, text: str, top_k: int = 5) -> Trace:
    """Feed `text` from the zero state, one character per step, and record the trace."""
    if not text:
        raise CorpusError("the text to trace is empty")
    ids = model.vocab.encode(text).astype(np.int32)
    layers, units = int(model.layers), int(model.units)
    state = np.asarray(model.zero_state(1), dtype=np.float32)
    expected = (1, 2 * layers, units)
    if state.shape != expected:
        raise ValueError(f"model zero state has shape {state.shape}, expected {expected}")
    n = len(ids)
    states = np.empty((n, 2 * layers, units), np.float32)
    logits = np.empty((n, len(model.vocab)), np.float32)
    for i in range(n):
        step_logits, state = model.step(ids[i:i + 1], state)
        state = np.asarray(state, dtype=np.float32)
        if state.shape != expected:
            raise ValueError(
                f"model step returned a state of shape {state.shape}, expected {expected}")
        logits[i] = np.asarray(step_logits, dtype=np.float32)[0]
        states[i] = state[0]
    probs = softmax(logits)
    top_ids, top_probs = top_guesses(probs, top_k)
    next_probs = np.full(n, np.nan, np.float32)
    next_probs[:-1] = probs[np.arange(n - 1), ids[1:]]
    return Trace(
        text=text, ids=ids,
        cells=np.tanh(states[:, 1::2]), hidden=states[:, 0::2].copy(),
        top_ids=top_ids, top_probs=top_probs, next_probs=next_probs,
        tokens=list(model.vocab.tokens),
    )
