"""`CharModel`: the interface every runtime gives a loaded model, and the conventions they share.

- an empty prime starts from the newline id when the vocabulary has one, else from id 2 (the most
  frequent character); that start character is not part of the output;
- prime characters missing from the vocabulary map to the unknown id 1, with one warning per
  character;
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


def check_generate_args(n: int, temperature: float, top_k: int, seed: int,
                        num_samples: int) -> None:
    """Reject bad sampling options with one-line messages named after the CLI flags."""
    require(isinstance(n, (int, np.integer)) and n >= 1, f"--n must be an integer >= 1 (got {n})")
    require(bool(np.isfinite(temperature)) and temperature >= 0,
            f"--temperature must be >= 0 (got {temperature}); 0 means greedy")
    require(top_k >= 0, f"--top-k must be >= 0 (got {top_k}); 0 means no top-k cut")
    require(num_samples >= 1, f"--num-samples must be >= 1 (got {num_samples})")
    require(-_INT32_MAX - 1 <= seed <= _INT32_MAX, f"--seed must fit in 32 bits (got {seed})")
    check_sizes(n, num_samples, top_k)


class CharModel:
    """A loaded model, as `charkeras.load` returns it in every runtime.

    Subclasses (one per runtime) provide `_step` and `score`, and `_generate_ids` or `_generate`.

    Attributes:
        vocab: The model's `Vocabulary`: `encode(text)` gives int32 ids, `decode(ids)` the text.
        layers: Stacked LSTM layers.
        units: LSTM units per layer.
        card: An export's card.json as a dict (None for a training run).
        path: Where the model was loaded from.
        runtime: `"savedmodel"`, `"tflite"` or `"run"`.
    """

    runtime = ""

    def __init__(self, vocab: Vocabulary, layers: int, units: int, card: dict | None = None,
                 path=None):
        self.vocab, self.layers, self.units, self.card = vocab, int(layers), int(units), card
        self.path = Path(path) if path is not None else None
        self._warned: set[str] = set()

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.path} runtime={self.runtime} layers={self.layers} "
                f"units={self.units} vocab={len(self.vocab)}>")

    def zero_state(self, batch: int = 1) -> np.ndarray:
        """The state every text starts from: zeros of shape [batch, 2 * layers, units], float32.

        Row 2i of the second axis is layer i's hidden state h, row 2i + 1 its cell state c.
        """
        return np.zeros((batch, 2 * self.layers, self.units), dtype=np.float32)

    def step(self, char_ids: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run one character through the model: the building block of a custom sampler.

        Args:
            char_ids: The current character of each of B texts: integer ids, shape [B]
                (`vocab.encode` turns text into ids).
            state: The state after the previous characters, shape [B, 2 * layers, units]
                (`zero_state(B)` for texts that start here).

        Returns:
            `(logits, state)`: the unnormalised log-probabilities of the next character, shape
            [B, vocabulary size], and the state after this character.

        Raises:
            ConfigError: An id is outside [0, vocabulary size) (a negative id would otherwise index
                from the end of the embedding and return another character's logits).

        Examples:
            >>> import numpy as np
            >>> import charkeras
            >>> m = charkeras.load("saved_models/shakespeare", runtime="tflite")
            >>> state = m.zero_state()
            >>> for char_id in m.vocab.encode("To be, or not to b"):
            ...     logits, state = m.step(np.array([char_id]), state)
            >>> logits.shape, state.shape
            ((1, 67), (1, 4, 512))
            >>> m.vocab.decode([logits[0].argmax()])
            'e'
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
        """How well the model predicts `text`: its total loss in nats, from the zero state.

        Args:
            text: The text to score. Characters the vocabulary lacks are read as the unknown id
                (with one warning per character).

        Returns:
            `(nats, count)`: the sum of -ln p(c_i | c_1..c_i-1) over the characters c_2..c_n of
            the n-character text (the first one is given, not predicted), and their number n - 1.
            `nats / count` is the loss in nats per character; divide it by ln 2 for bits per
            character.

        Raises:
            CorpusError: `text` is not valid Unicode (a lone surrogate).

        Examples:
            >>> import charkeras
            >>> m = charkeras.load("saved_models/shakespeare", runtime="tflite")
            >>> nats, count = m.score("To be, or not to be, that is the question.")
            >>> count, round(nats / count, 2)
            (41, 1.55)
        """
        raise NotImplementedError

    def generate(self, n: int, prime: str = "", temperature: float = 0.8, top_k: int = 0,
                 seed: int = 0, num_samples: int = 1) -> str | list[str]:
        """Sample `n` characters that continue `prime`.

        Every runtime draws the same random numbers, so a seed gives the same text in each of
        them (SavedModel, LiteRT, a training run, the browser page).

        Args:
            n: Characters to generate (per sample).
            prime: Text the model reads first; it is not part of the result. Empty: start after a
                newline (or from the most frequent character when the vocabulary has no newline).
                Characters the vocabulary lacks are read as the unknown id, with one warning each.
            temperature: Divides the logits before sampling: below 1 is more conservative, above 1
                more adventurous; 0 always takes the most likely character (greedy).
            top_k: Sample from the `top_k` most likely characters only (0: from all of them).
            seed: The random seed (32-bit); the same seed gives the same text.
            num_samples: Independent samples generated together in one batch.

        Returns:
            The generated text, or a list of `num_samples` texts when `num_samples` > 1.

        Raises:
            ConfigError: An argument is out of range (`n` < 1, a negative `temperature` or
                `top_k`, a seed beyond 32 bits) or the generation would not fit in memory.
            CorpusError: `prime` is not valid Unicode (a lone surrogate, such as a byte that was
                not UTF-8 read with `errors="surrogateescape"`).

        Examples:
            >>> import charkeras
            >>> m = charkeras.load("saved_models/shakespeare", runtime="tflite")
            >>> print(m.generate(44, prime="JULIET:\\nO ", temperature=0.8, seed=1))
            kind of Rome, lie with the Lords and Mantua,
            >>> for text in m.generate(30, prime="JULIET:\\n", num_samples=3, seed=1):
            ...     print(text)
            And then to whome and so all t
            Even when the rest, but beg on
            Dark, one so much of those ind
        """
        check_generate_args(n, temperature, top_k, seed, num_samples)
        check_generation_memory(int(n), int(num_samples), self.layers, self.units, len(self.vocab))
        check_unicode(prime, "--prime")
        self.warn_unknown(prime)
        texts = self._generate(int(n), prime, float(temperature), int(top_k), int(seed),
                               int(num_samples))
        return texts[0] if num_samples == 1 else texts

    def _generate(self, n, prime, temperature, top_k, seed, num_samples) -> list[str]:
        prime_ids = np.tile(self.prime_ids(prime), (num_samples, 1))
        ids = self._generate_ids(prime_ids, n, temperature, top_k, seed)
        return [self.vocab.decode(row) for row in ids]

    def _generate_ids(self, prime_ids: np.ndarray, n, temperature, top_k, seed) -> np.ndarray:
        raise NotImplementedError

    def prime_ids(self, prime: str) -> np.ndarray:
        """The int32 ids `generate` starts from: the prime's, or [start id] when it is empty."""
        return self.vocab.encode(prime) if prime else np.array([self.vocab.start_id], np.int32)

    def warn_unknown(self, text: str) -> None:
        """Warn once per character the vocabulary lacks; every runtime's score passes its text
        here."""
        check_unicode(text, "the text")
        new = [ch for ch in self.vocab.unknown_chars(text) if ch not in self._warned]
        if new:
            self._warned.update(new)
            shown = ", ".join(repr(ch) for ch in new)
            warn(f"characters not in the model's vocabulary are read as unknown (id {UNK_ID}): "
                 f"{shown}")
