"""The LiteRT runtime: the exported `.tflite` `step` signature plus numpy sampling, never
TensorFlow.

This is the fast path of `charkeras generate`: no TensorFlow import (~2.5 s saved), well under a
millisecond per step. The .tflite holds only the step (TFLite builtins have no string or
stateless-random ops), so the text <-> id mapping and the sampling happen here, with the vocabulary
from card.json and charkeras/sampling/numpy_sampler.py, which draws TensorFlow's random numbers:
a seed gives the text the SavedModel's `generate` gives (up to the ~1e-6 logit differences of the
converted model, which can flip a near-tie and then change the rest of the text).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from charkeras.artifact.layout import PRECISIONS, TFLITE_FILES
from charkeras.artifact.schema import check_model_fits_card
from charkeras.errors import ModelLoadError, RuntimeMissing, require
from charkeras.machine import cpu_cores
from charkeras.native_chatter import filtered_stderr
from charkeras.probability import log_softmax
from charkeras.runtime.char_model import CharModel
from charkeras.runtime.limits import check_threads
from charkeras.sampling.numpy_sampler import generate_ids_numpy

INSTALL_HINT = "pip install ai-edge-litert (or: pip install 'charkeras[lite]')"
# XNNPACK splits a step's matrix-vector products across threads: a 2x512 step took 111 us with 2
# threads against 170 us with 1 on a 2-core machine; a tiny model is no slower. More than 4 threads
# did not pay on one step's small products.
_MAX_DEFAULT_THREADS = 4


def default_threads() -> int:
    return max(1, min(_MAX_DEFAULT_THREADS, cpu_cores()))


def make_interpreter(path: Path, threads: int | None = None):
    check_threads(threads)
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise RuntimeMissing(
            f"--runtime tflite needs the LiteRT interpreter: {INSTALL_HINT}") from None
    try:
        return Interpreter(model_path=str(path), num_threads=threads or default_threads())
    except (ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"cannot load {path}: {str(exc).strip().splitlines()[0]}") from None


def check_file_digest(path: Path, expected: str | None) -> None:
    """The file must be the one card.json describes (cards written before the digest have none)."""
    if not expected:
        return
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path}: {exc.strerror or exc}") from None
    if digest != expected:
        raise ModelLoadError(f"{path} is not the file card.json describes (sha256 differs): it was "
                             "replaced or damaged, or an export into this directory was "
                             "interrupted; export again")


class LiteCharModel(CharModel):
    runtime = "tflite"

    def __init__(self, model_path: Path, vocab, layers, units, card=None, path=None,
                 threads: int | None = None):
        super().__init__(vocab, layers, units, card, path)
        self.model_path = Path(model_path)
        self.interpreter = make_interpreter(model_path, threads)
        runner = self.interpreter.get_signature_runner("step")
        self._in = {name: d["index"] for name, d in runner.get_input_details().items()}
        self._out = {name: d["index"] for name, d in runner.get_output_details().items()}
        if set(self._in) != {"char_id", "state"} or set(self._out) != {"logits", "state"}:
            raise ModelLoadError(f"{model_path} does not have the contract's step signature")
        outputs = runner.get_output_details()
        check_model_fits_card(str(model_path), len(vocab), self.layers, self.units,
                              outputs["logits"]["shape_signature"],
                              outputs["state"]["shape_signature"])
        self._batch = None

    @classmethod
    def from_export(cls, base: Path, card: dict, vocab, precision: str = "float32",
                    threads: int | None = None) -> LiteCharModel:
        require(precision in PRECISIONS,
                f"--precision must be one of {', '.join(PRECISIONS)} (got {precision!r})")
        model_path = Path(base) / TFLITE_FILES[precision]
        if not model_path.is_file():
            hint = " (export with --quantize int8)" if precision == "int8" else ""
            raise ModelLoadError(f"{model_path} not found{hint}")
        check_file_digest(model_path,
                          ((card.get("tflite") or {}).get(model_path.name) or {}).get("sha256"))
        return cls(model_path, vocab, card["layers"], card["units"], card, base, threads)

    def _resize(self, batch: int) -> None:
        # The interpreter keeps one batch size; changing it reallocates, so do it only when it
        # changes.
        if batch != self._batch:
            it = self.interpreter
            it.resize_tensor_input(self._in["char_id"], [batch])
            it.resize_tensor_input(self._in["state"], [batch, 2 * self.layers, self.units])
            with filtered_stderr():  # LiteRT's XNNPACK line, on the first allocation
                it.allocate_tensors()
            self._batch = batch

    def _step(self, char_ids, state):
        char_ids = np.ascontiguousarray(char_ids, np.int32)
        self._resize(len(char_ids))
        it = self.interpreter
        it.set_tensor(self._in["char_id"], char_ids)
        it.set_tensor(self._in["state"], np.ascontiguousarray(state, np.float32))
        it.invoke()
        return it.get_tensor(self._out["logits"]), it.get_tensor(self._out["state"])

    def _generate_ids(self, prime_ids, n, temperature, top_k, seed):
        state = self.zero_state(len(prime_ids))
        # seed s is [s, 0]
        return generate_ids_numpy(self._step, prime_ids, state, n, temperature, top_k, (seed, 0))

    def score(self, text: str) -> tuple[float, int]:
        self.warn_unknown(text)
        ids = self.vocab.encode(text)
        state, total = self.zero_state(1), 0.0
        for i in range(1, len(ids)):
            logits, state = self._step(ids[i - 1:i], state)
            total -= float(log_softmax(logits)[0, ids[i]])
        return total, max(len(ids) - 1, 0)
