"""Bounds on generation options that would otherwise fail late or silently: the sizes TensorFlow's
int32 inputs can hold, the memory a batch of samples needs, and sane thread counts.

`--n 3000000000` used to wrap around int32 and print nothing with exit code 0, `--n 99999999999`
aborted in C++ (std::bad_alloc), `--num-samples 100000` took 11 GB, `--threads 100000` crashed
LiteRT. Each is now one `error:` line before any work. No TensorFlow here.
"""

from __future__ import annotations

from charkeras.errors import require
from charkeras.machine import available_memory, cpu_cores

INT32_MAX = 2**31 - 1
# Bytes per generated character and row: the ids (TensorArray, stack, transpose), the tokens gathered
# as a string tensor, the joined text and its Python decoding.
_BYTES_PER_CHAR = 96
# Bytes per row per layer x unit (states in and out, the four gates, copies between ops: LiteRT used
# 6.1 GB for 100,000 rows of a 2x512 model, 61 bytes per row-unit) and per
# vocabulary entry (float32 logits, float64 noise and scaled logits, top-k).
_BYTES_PER_STATE_UNIT = 64
_BYTES_PER_LOGIT = 64


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
    per_row = _BYTES_PER_CHAR * n + _BYTES_PER_STATE_UNIT * layers * units + _BYTES_PER_LOGIT * vocab_size
    return num_samples * per_row


def check_generation_memory(n: int, num_samples: int, layers: int, units: int, vocab_size: int,
                            available: int | None = None) -> None:
    """Refuse a generation whose working memory exceeds the memory available (when it can be known)."""
    available = available_memory() if available is None else available
    if available is None:
        return
    need = generation_bytes(n, num_samples, layers, units, vocab_size)
    require(need <= available,
            f"--n {n} x --num-samples {num_samples} needs about {need / 1e9:.1f} GB of memory with this model, "
            f"more than the {available / 1e9:.1f} GB available: generate fewer characters or samples per call")
