"""Probabilities in numpy: softmax, log-softmax and the nats-to-bits conversion every report uses.

Losses are natural-log (nats per character) everywhere in charkeras; bits per character are nats /
ln 2.
"""

from __future__ import annotations

import math

import numpy as np

LN2 = math.log(2.0)


def bits(nats: float | None) -> float | None:
    """Nats (per character) in bits; None stays None (a loss not measured yet)."""
    return None if nats is None else nats / LN2


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """float64 log-probabilities over the last axis, computed stably."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """float32 probabilities over the last axis (computed in float64)."""
    shifted = np.asarray(logits, dtype=np.float64)
    e = np.exp(shifted - shifted.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
