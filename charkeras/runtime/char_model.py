"""`CharModel`: the interface every runtime gives a loaded model, and the conventions they share.

- an empty prime starts from the newline id when the vocabulary has one, else from id 2 (the most
  frequent character); that start character is not part of the output;
- prime characters missing from the vocabulary map to the unknown id 1, with one warning per character;
- temperature 0 is greedy; top_k 0 keeps every id; ids 0 and 1 are never sampled;
- `seed=s` is the signature input `seed=[s, 0]`. Every runtime draws the same random numbers
  (charkeras/sampling/), so a seed gives the same text in each of them.
No TensorFlow here: the LiteRT runtime builds on this module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from charkeras.errors import ConfigError, require, warn
from charkeras.runtime.limits import check_generation_memory, check_sizes
from charkeras.text.vocabulary import UNK_ID, Vocabulary, check_unicode

_INT32_MAX = 2**31 - 1


def check_generate_args(n: int, temperature: float, top_k: int, seed: int, num_samples: int) -> None:
    """Reject bad sampling options with one-line messages named after the CLI flags."""
    require(isinstance(n, (int, np.integer)) and n >= 1, f"--n must be an integer >= 1 (got {n})")
    require(bool(np.isfinite(temperature)) and temperature >= 0,
            f"--temperature must be >= 0 (got {temperature}); 0 means greedy")
    require(top_k >= 0, f"--top-k must be >= 0 (got {top_k}); 0 means no top-k cut")
    require(num_samples >= 1, f"--num-samples must be >= 1 (got {num_samples})")
    require(-_INT32_MAX - 1 <= seed <= _INT32_MAX, f"--seed must fit in 32 bits (got {seed})")
    check_sizes(n, num_samples, top_k)


class CharModel:
    """A character model ready to sample from; subclasses provide `step`, `_generate_ids` or `_generate`."""

    runtime = ""

    def __init__(self, vocab: Vocabulary, layers: int, units: int, card: dict | None = None, path=None):
        self.vocab, self.layers, self.units, self.card = vocab, int(layers), int(units), card
        self.path = Path(path) if path is not None else None
        self._warned: set[str] = set()

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.path} runtime={self.runtime} layers={self.layers} "
                f"units={self.units} vocab={len(self.vocab)}>")

    def zero_state(self, batch: int = 1) -> np.ndarray:
        return np.zeros((batch, 2 * self.layers, self.units), dtype=np.float32)

    def step(self, char_ids: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One step: int32 ids [B] and state [B, 2L, U] -> (logits [B, V], new state).

        Raises ConfigError for an id outside [0, vocabulary size): a negative id would otherwise index
        from the end of the embedding and return another character's logits.
        """
        ids, size = np.asarray(char_ids), len(self.vocab)
        outside = ids[(ids < 0) | (ids >= size)]
        if outside.size:
            raise ConfigError(f"character ids must be in [0, {size}) (got {outside.flat[0]})")
        return self._step(ids.astype(np.int32), state)

    def _step(self, char_ids: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`step` for ids already checked; the runtimes' own loops call it directly."""
        raise NotImplementedError

    def score(self, text: str) -> tuple[float, int]:
        """(sum of -ln p(c_i | c_<i) for i = 2..n from the zero state, n - 1)."""
        raise NotImplementedError

    def generate(self, n: int, prime: str = "", temperature: float = 0.8, top_k: int = 0, seed: int = 0,
                 num_samples: int = 1) -> str | list[str]:
        """`n` characters continuing `prime` (the prime itself is not returned).

        Returns a string, or a list of `num_samples` strings sampled in one batch when num_samples > 1.
        """
        check_generate_args(n, temperature, top_k, seed, num_samples)
        check_generation_memory(int(n), int(num_samples), self.layers, self.units, len(self.vocab))
        check_unicode(prime, "--prime")
        self.warn_unknown(prime)
        texts = self._generate(int(n), prime, float(temperature), int(top_k), int(seed), int(num_samples))
        return texts[0] if num_samples == 1 else texts

    def _generate(self, n, prime, temperature, top_k, seed, num_samples) -> list[str]:
        prime_ids = np.tile(self.prime_ids(prime), (num_samples, 1))
        ids = self._generate_ids(prime_ids, n, temperature, top_k, seed)
        return [self.vocab.decode(row) for row in ids]

    def _generate_ids(self, prime_ids: np.ndarray, n, temperature, top_k, seed) -> np.ndarray:
        raise NotImplementedError

    def prime_ids(self, prime: str) -> np.ndarray:
        """int32 ids of the prime, or [start id] when it is empty."""
        return self.vocab.encode(prime) if prime else np.array([self.vocab.start_id], np.int32)

    def warn_unknown(self, text: str) -> None:
        """Warn once per character the vocabulary lacks; every runtime's score passes its text here."""
        check_unicode(text, "the text")
        new = [ch for ch in self.vocab.unknown_chars(text) if ch not in self._warned]
        if new:
            self._warned.update(new)
            shown = ", ".join(repr(ch) for ch in new)
            warn(f"characters not in the model's vocabulary are read as unknown (id {UNK_ID}): {shown}")
