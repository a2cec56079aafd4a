"""The model a time budget buys: the largest shape of a ladder that sees enough characters per
parameter in the budget on this machine, capped by the corpus-size table. No TensorFlow here.

In a short budget a large model sees too little text to beat a smaller one that sees it several
times (scaling studies: parameters and training tokens should grow together). The rule: for each
rung of `LADDER`, from the largest down, predict the characters it sees in the budget (a
`Throughput` times the training seconds the budget leaves) and take the first whose characters per
parameter reach `SEEN_PER_PARAM`; none does: the smallest rung. Rungs larger than the corpus-size
table's model (`sizing.MODEL_TABLE`) are never taken. K and the cost model come from the sizing
study (docs/guides/sizing-study.md, tools/bench_sizing.py); the throughput is predicted by
`throughput.MeasuredThroughput` (a cost model scaled by a short timing at start-up).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SEQ_LEN = 100
# Characters seen per parameter that a rung needs in the budget (fitted in the sizing study).
SEEN_PER_PARAM = 15.0
# Seconds of a budget before the first step and after the last (imports, corpus, tracing, the final
# validation and save): 5m budgets trained for 4m53s-4m55s in the sizing study. The cost model's
# speeds include the validations and samples on the clock.
STARTUP_SECONDS = 6.0


@dataclass(frozen=True)
class Rung:
    layers: int
    units: int
    embedding_dim: int
    batch_size: int
    learning_rate: float = 2e-3  # TrainConfig's default: what the study ran the larger rungs with

    def params(self, vocab: int) -> int:
        return parameter_count(self.layers, self.units, self.embedding_dim, vocab)

    def describe(self) -> str:
        return f"{self.layers} x {self.units} batch {self.batch_size}"


# Smallest first; every rung at seq-len 100. 2 x 256 at batch 64 lost to batch 32 at 5 minutes in
# the study: a short budget needs more, cheaper steps. The smallest rung is the exception: at batch
# 16 (what it ran before) it trains slower than PyTorch's LSTM on a CPU (TensorFlow's per-op cost
# weighs most in the smallest steps, docs/performance.md), while batch 64 with the learning rate
# raised to 0.008 runs ~1.4x PyTorch and at 2 minutes did better than batch 16 on two corpora of
# three and 0.9% worse on the third (docs/guides/sizing-study.md).
LADDER = (
    Rung(1, 128, 32, 64, learning_rate=8e-3),
    Rung(1, 256, 64, 32),
    Rung(2, 256, 64, 32),
    Rung(2, 512, 64, 64),
    Rung(3, 512, 64, 64),
)


def parameter_count(layers: int, units: int, embedding_dim: int, vocab: int) -> int:
    """Embedding, the LSTM stack (4 gates, one bias each) and the softmax layer."""
    total, width = vocab * embedding_dim, embedding_dim
    for _ in range(layers):
        total += 4 * units * (width + units + 1)
        width = units
    return total + units * vocab + vocab


class Throughput(Protocol):
    def chars_per_second(self, layers: int, units: int, embedding_dim: int, vocab: int,
                         batch_size: int, seq_len: int) -> float: ...


@dataclass(frozen=True)
class BudgetChoice:
    rung: Rung
    chars_per_second: float
    seen: float  # characters the rung is predicted to see in the budget
    seen_per_param: float
    why: str  # one line: what was chosen and why


def training_seconds(budget: float) -> float:
    return max(0.0, budget - STARTUP_SECONDS)


def seen_in_budget(rung: Rung, vocab: int, budget: float, speed: Throughput,
                   batch_size: int | None = None) -> tuple[float, float]:
    """(chars/s, characters seen) of `rung` at `batch_size` (default: its own) in `budget` s."""
    batch = batch_size or rung.batch_size
    rate = speed.chars_per_second(rung.layers, rung.units, rung.embedding_dim, vocab, batch,
                                  SEQ_LEN)
    return rate, rate * training_seconds(budget)


def choose_rung(budget: float, vocab: int, max_params: int, speed: Throughput,
                batch_size: int | None = None, k: float = SEEN_PER_PARAM) -> BudgetChoice:
    """The largest rung of at most `max_params` parameters that sees `k` characters per parameter
    in `budget` seconds (the smallest rung when none does). `batch_size`: a given --batch-size."""
    allowed = [r for r in LADDER if r.params(vocab) <= max_params] or [LADDER[0]]
    for rung in reversed(allowed):
        rate, seen = seen_in_budget(rung, vocab, budget, speed, batch_size)
        if seen / rung.params(vocab) >= k or rung is allowed[0]:
            break
    per_param = seen / rung.params(vocab)
    larger = next((r for r in allowed if r.params(vocab) > rung.params(vocab)), None)
    why = (f"{rung.describe()}: ~{_millions(seen)} chars seen in the budget at ~{rate:,.0f} "
           f"chars/s, {per_param:.0f} per parameter")
    if per_param < k:
        why += f" (< {k:g}: the smallest shape)"
    elif larger is not None:
        _, more = seen_in_budget(larger, vocab, budget, speed, batch_size)
        why += f" (>= {k:g}; {larger.describe()} would see {more / larger.params(vocab):.0f})"
    return BudgetChoice(rung, rate, seen, per_param, why)


def _millions(chars: float) -> str:
    return f"{chars / 1e6:.1f} M" if chars >= 1e5 else f"{chars / 1e3:.0f} K"
