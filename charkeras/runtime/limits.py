"""Bounds on the options that size a command's memory or time, which would otherwise fail late or
silently: the sizes TensorFlow's int32 inputs can hold, the memory a batch of samples, a beam, a
set of scoring streams or a cell trace needs, the length of a prime, and sane thread counts.

`--n 3000000000` used to wrap around int32 and print nothing with exit code 0, `--n 99999999999`
aborted in C++ (std::bad_alloc), `--num-samples 100000` took 11 GB, `--threads 100000` crashed
LiteRT; `--beam 1000000`, `evaluate --streams 1000000 --warmup 0` and `cells --max-chars 1000000`
ran out of memory, and a 50 MB prime ran for minutes in silence. Each is now one `error:` line
before any work. No TensorFlow here.
"""

from __future__ import annotations

from charkeras.errors import require
from charkeras.machine import available_memory, cpu_cores

INT32_MAX = 2**31 - 1
# Bytes per generated character and row: the ids (TensorArray, stack, transpose), the tokens
# gathered as a string tensor, the joined text and its Python decoding.
_BYTES_PER_CHAR = 96
# Bytes per row per layer x unit (states in and out, the four gates, copies between ops: LiteRT used
# 6.1 GB for 100,000 rows of a 2x512 model, 61 bytes per row-unit) and per
# vocabulary entry (float32 logits, float64 noise and scaled logits, top-k).
_BYTES_PER_STATE_UNIT = 64
_BYTES_PER_LOGIT = 64
# Scoring streams: per stream, its states as above and, per step of a call, its float32 logits and
# their log-softmax.
_BYTES_PER_SCORED_LOGIT = 16
# A cell trace keeps, per character, the states (c and h, float32) and their tanh(c)/h copies, and
# the probes correlate them in float64: 48 bytes per layer x unit; and the logits, 12 per entry.
_BYTES_PER_TRACED_UNIT = 48
_BYTES_PER_TRACED_LOGIT = 12
# A prime is fed one character at a time before the first generated one: a context, not a corpus
# (`evaluate` scores whole texts, in parallel streams).
PRIME_MAX_CHARS = 100_000


def max_threads() -> int:
    """The largest --threads accepted: 4 threads per usable core (more only adds contention; 100000
    crashed LiteRT and hung TensorFlow)."""
    return 4 * cpu_cores()


def check_threads(threads: int | None) -> None:
    if threads is None:
        return
    top = max_threads()
    require(0 <= threads <= top, f"--threads must be in [0, {top}] (4 per core; got {threads}); "
                                 "0 means the runtime's default")


def check_sizes(n: int, num_samples: int, top_k: int = 0) -> None:
    """--n, --num-samples and --top-k travel as int32 through the signatures."""
    require(n <= INT32_MAX, f"--n must be <= {INT32_MAX} (got {n})")
    require(num_samples <= INT32_MAX, f"--num-samples must be <= {INT32_MAX} (got {num_samples})")
    require(top_k <= INT32_MAX, f"--top-k must be <= {INT32_MAX} (got {top_k})")


def generation_bytes(n: int, num_samples: int, layers: int, units: int, vocab_size: int) -> int:
    """An upper estimate of the working memory of generating `num_samples` x `n` characters."""
    per_row = (_BYTES_PER_CHAR * n + _BYTES_PER_STATE_UNIT * layers * units
               + _BYTES_PER_LOGIT * vocab_size)
    return num_samples * per_row


def check_generation_memory(n: int, num_samples: int, layers: int, units: int, vocab_size: int,
                            available: int | None = None, rows: str = "--num-samples") -> None:
    """Refuse a generation whose working memory exceeds the memory available (when it can be known).
    `rows` names the option that sets the rows: --num-samples, or --beam for a beam search."""
    need = generation_bytes(n, num_samples, layers, units, vocab_size)
    _check_memory(need, f"--n {n} x {rows} {num_samples}", available,
                  f"generate fewer characters or {'beams' if rows == '--beam' else 'samples'} per "
                  "call")


def check_scoring_memory(streams: int, steps_per_call: int, layers: int, units: int,
                         vocab_size: int, available: int | None = None) -> None:
    """Refuse scoring in `streams` parallel streams (after the plan's cap) that cannot fit."""
    need = streams * (_BYTES_PER_STATE_UNIT * layers * units
                      + _BYTES_PER_SCORED_LOGIT * steps_per_call * vocab_size)
    _check_memory(need, f"--streams {streams}", available, "pass fewer --streams")


def check_trace_memory(chars: int, layers: int, units: int, vocab_size: int,
                       available: int | None = None) -> None:
    """Refuse tracing every cell over `chars` characters when the trace cannot fit."""
    need = chars * (_BYTES_PER_TRACED_UNIT * layers * units + _BYTES_PER_TRACED_LOGIT * vocab_size)
    _check_memory(need, f"--max-chars {chars}", available, "pass a smaller --max-chars")


def check_prime(prime: str) -> None:
    require(len(prime) <= PRIME_MAX_CHARS,
            f"the prime must be at most {PRIME_MAX_CHARS:,} characters (got {len(prime):,}); use "
            "the end of the text as the prime, or `charkeras evaluate` to score a whole text")


def _check_memory(need: int, what: str, available: int | None, advice: str) -> None:
    available = available_memory() if available is None else available
    if available is None:  # not known on this system: nothing to compare with
        return
    require(need <= available,
            f"{what} needs about {need / 1e9:.1f} GB of memory with this model, more than the "
            f"{available / 1e9:.1f} GB available: {advice}")
