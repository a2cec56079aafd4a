"""Loss of a model on a text (nats/char, bits/char, perplexity), with an optional n-gram baseline.

Scoring uses the model's `score` signature semantics: the sum of -ln p(c_i | c_<i) for i = 2..n from
the zero state, divided by n - 1 (computed in parallel streams unless `exact`, see
stream_scoring.py). The n-gram baseline scores the same characters the same way (no history for the
first one), so the two numbers are directly comparable.
"""

from __future__ import annotations

import math

from charkeras.errors import require
from charkeras.inspect.ngram import ngram_baseline
from charkeras.inspect.stream_scoring import DEFAULT_STREAMS, DEFAULT_WARMUP, score_streams
from charkeras.probability import bits


def loss_summary(nll: float, count: int) -> dict:
    nats = nll / count
    return {"chars": count + 1, "scored": count, "nats_per_char": nats, "bpc": bits(nats),
            "perplexity": math.exp(nats)}


def split_tail(text: str, tail: float) -> tuple[str, str]:
    """(head, tail) with the tail the last `tail` fraction, cut exactly as `fit` cuts its validation
    text."""
    require(0.0 < tail < 1.0, f"--tail must be in (0, 1) (got {tail})")
    cut = int(len(text) * (1.0 - tail))
    return text[:cut], text[cut:]


def evaluate_model(model, text: str, *, exact: bool = False, streams: int = DEFAULT_STREAMS,
                   warmup: int = DEFAULT_WARMUP, progress=None) -> dict:
    """Loss of a loaded CharModel (charkeras.load) on `text`.

    By default in parallel streams with a warm-up (charkeras/inspect/stream_scoring.py: the same
    number to about 1e-6 relative, many times faster); `exact=True` runs the model's own `score`,
    one character at a time from the zero state.
    """
    require(len(text) >= 2, "the text to evaluate needs at least 2 characters")
    require(streams >= 1, f"--streams must be >= 1 (got {streams})")
    require(warmup >= 0, f"--warmup must be >= 0 (got {warmup})")
    if exact:
        nll, count = model.score(text)
    else:
        model.warn_unknown(text)
        nll, count = score_streams(model, model.vocab.encode(text), streams=streams, warmup=warmup,
                                   progress=progress)
    return loss_summary(nll, count)


def evaluate_ngram(vocab, train_text: str, text: str) -> dict:
    """The best-order n-gram model fit on `train_text`, scored on `text` with the model's
    vocabulary."""
    require(len(train_text) >= 2,
            "the n-gram baseline needs a training text (--train-text or --tail)")
    result = ngram_baseline(vocab.encode(train_text), vocab.encode(text), len(vocab))
    nats = result["nats_per_char"]
    return {"order": result["order"], **loss_summary(nats * (len(text) - 1), len(text) - 1)}
