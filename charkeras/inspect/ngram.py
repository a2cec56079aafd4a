"""A character n-gram baseline, so a user can tell whether a neural model learned anything.

Interpolated Witten-Bell smoothing over contexts of length 0..order-1, with add-one at the unigram
level so every character (even one never seen in training) has non-zero probability:

    p_0(c)   = (C(c) + 1) / (N + V)
    p_k(c|h) = (C(h c) + T(h) * p_{k-1}(c|h')) / (C(h) + T(h))     (h' = h without its oldest char)

where T(h) is the number of distinct characters seen after h; an unseen context falls back to
p_{k-1}. Counting and scoring are vectorised with numpy (context keys as base-V integers), so a
1M-char text fits in about a second per order. The order is chosen on the training text itself (last
10% held out).
"""

from __future__ import annotations

import numpy as np

MAX_ORDER = 10


class NgramModel:
    def __init__(self, order: int, vocab_size: int):
        if order < 1:
            raise ValueError("order must be >= 1")
        if vocab_size ** order >= 2 ** 62:
            raise ValueError(f"order {order} is too high for a vocabulary of {vocab_size}")
        self.order, self.vocab_size = order, vocab_size
        self.tables: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.unigram = np.zeros(vocab_size)

    def fit(self, ids: np.ndarray) -> NgramModel:
        ids = np.asarray(ids, dtype=np.int64)
        counts = np.bincount(ids, minlength=self.vocab_size)[: self.vocab_size]
        self.unigram = (counts + 1.0) / (len(ids) + self.vocab_size)
        self.tables = []
        for k in range(1, self.order):
            context = self._context_keys(ids, k)
            joint_keys, joint_counts = np.unique(context * self.vocab_size + ids[k:],
                                                 return_counts=True)
            ctx_keys, ctx_counts = np.unique(context, return_counts=True)
            # distinct continuations T(h): one entry per distinct (h, c), grouped by h
            _, types = np.unique(joint_keys // self.vocab_size, return_counts=True)
            self.tables.append((joint_keys, joint_counts, ctx_keys, ctx_counts, types))
        return self

    def _context_keys(self, ids: np.ndarray, k: int) -> np.ndarray:
        """Key of the k characters before each position i >= k, as a base-V integer."""
        key = np.zeros(len(ids) - k, dtype=np.int64)
        for j in range(k):
            key = key * self.vocab_size + ids[j:len(ids) - k + j]
        return key

    def log_probs(self, ids: np.ndarray) -> np.ndarray:
        """ln p(c_i | up to order-1 previous chars of `ids`) for i = 1..n-1 (the first char has no
        history)."""
        ids = np.asarray(ids, dtype=np.int64)
        p = self.unigram[ids].copy()
        for k, (joint_keys, joint_counts, ctx_keys, ctx_counts, types) in enumerate(self.tables,
                                                                                    start=1):
            if len(ids) <= k:
                break
            context = self._context_keys(ids, k)
            c_joint = _lookup(joint_keys, joint_counts, context * self.vocab_size + ids[k:])
            at = np.searchsorted(ctx_keys, context).clip(max=len(ctx_keys) - 1)
            seen = ctx_keys[at] == context
            c_ctx = np.where(seen, ctx_counts[at], 0)
            t_ctx = np.where(seen, types[at], 0)
            lower = p[k:]
            p[k:] = np.where(seen, (c_joint + t_ctx * lower) / np.maximum(c_ctx + t_ctx, 1), lower)
        return np.log(p[1:])

    def nats_per_char(self, ids: np.ndarray) -> float:
        return float(-self.log_probs(ids).mean())


def _lookup(keys: np.ndarray, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    at = np.searchsorted(keys, queries).clip(max=len(keys) - 1)
    return np.where(keys[at] == queries, values[at], 0)


def choose_order(train_ids: np.ndarray, vocab_size: int, max_order: int = MAX_ORDER) -> tuple[int,
                                                                                              dict]:
    """The order with the lowest loss on the last 10% of the training text; returns (order, {order:
    loss})."""
    cut = int(len(train_ids) * 0.9)
    fit_part, held_out = train_ids[:cut], train_ids[cut:]
    losses = {}
    for order in range(1, max_order + 1):
        if vocab_size ** order >= 2 ** 62:
            break
        losses[order] = NgramModel(order, vocab_size).fit(fit_part).nats_per_char(held_out)
    return min(losses, key=losses.get), losses


def ngram_baseline(train_ids: np.ndarray, eval_ids: np.ndarray, vocab_size: int) -> dict:
    """Fit the best-order n-gram model on `train_ids` and score `eval_ids` (nats/char, from no
    history)."""
    order, losses = choose_order(train_ids, vocab_size)
    model = NgramModel(order, vocab_size).fit(train_ids)
    return {"order": order, "nats_per_char": model.nats_per_char(eval_ids), "order_search": losses}
