"""Load a model and generate or score text with it.

`load(path)` accepts
- an export (`saved_models/NAME`, or its version directory `NAME/1`): runs the SavedModel signatures
  (runtime "savedmodel", needs only TensorFlow) or the `.tflite` `step` signature through LiteRT
  (runtime "tflite", never imports TensorFlow; see charkeras/lite_runtime.py);
- a training run directory (runtime "keras"): its best checkpoint (else the latest) in the step model,
  running the very functions an export would contain (`charkeras.export.signature_functions`).

Every runtime returns a `CharModel` with the same methods. Conventions shared by all of them:
- an empty prime starts from the newline id when the vocabulary has one, else from id 2 (the most
  frequent character); that start character is not part of the output;
- prime characters missing from the vocabulary map to the unknown id 1, with one warning per character;
- temperature 0 is greedy; top_k 0 keeps every id; ids 0 and 1 are never sampled;
- `seed=s` is the signature input `seed=[s, 0]`. Every runtime draws the same random numbers
  (charkeras/sampling.py), so a seed gives the same text in each of them.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from charkeras.errors import ConfigError, CorpusError, ModelLoadError
from charkeras.vocab import UNK_ID, Vocabulary

CARD_FILE = "card.json"
RUNTIMES = ("savedmodel", "tflite", "keras")
_INT32_MAX = 2**31 - 1


def start_id(vocab: Vocabulary) -> int:
    """The id fed before sampling when the prime is empty: newline if known, else the most frequent char."""
    return int(vocab.encode("\n")[0]) if "\n" in vocab.chars else 2


def check_generate_args(n: int, temperature: float, top_k: int, seed: int, num_samples: int) -> None:
    """Reject bad sampling options with one-line messages named after the CLI flags."""
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"--n must be an integer >= 1 (got {n})")
    if not np.isfinite(temperature) or temperature < 0:
        raise ConfigError(f"--temperature must be >= 0 (got {temperature}); 0 means greedy")
    if top_k < 0:
        raise ConfigError(f"--top-k must be >= 0 (got {top_k}); 0 means no top-k cut")
    if num_samples < 1:
        raise ConfigError(f"--num-samples must be >= 1 (got {num_samples})")
    if not -_INT32_MAX - 1 <= seed <= _INT32_MAX:
        raise ConfigError(f"--seed must fit in 32 bits (got {seed})")


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
        """One step: int32 ids [B] and state [B, 2L, U] -> (logits [B, V], new state)."""
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
        return self.vocab.encode(prime) if prime else np.array([start_id(self.vocab)], np.int32)

    def warn_unknown(self, text: str) -> None:
        new = [ch for ch in self.vocab.unknown_chars(text) if ch not in self._warned]
        if new:
            self._warned.update(new)
            shown = ", ".join(repr(ch) for ch in new)
            warnings.warn(f"characters not in the model's vocabulary are read as unknown (id {UNK_ID}): {shown}",
                          UserWarning, stacklevel=3)


class SignatureCharModel(CharModel):
    """Runs the contract's signatures: loaded from a SavedModel, or in memory for a training run."""

    def __init__(self, functions: dict, vocab, layers, units, card=None, path=None, runtime="savedmodel"):
        super().__init__(vocab, layers, units, card, path)
        self.functions = functions
        self.runtime = runtime
        self._batched = None

    def step(self, char_ids, state):
        import tensorflow as tf

        out = self.functions["step"](char_id=tf.constant(np.asarray(char_ids, np.int32)),
                                     state=tf.constant(np.asarray(state, np.float32)))
        return out["logits"].numpy(), out["state"].numpy()

    def score(self, text: str) -> tuple[float, int]:
        import tensorflow as tf

        self.warn_unknown(text)
        out = self.functions["score"](text=tf.constant(text))
        return float(out["nll"].numpy()), int(out["count"].numpy())

    def _generate(self, n, prime, temperature, top_k, seed, num_samples):
        if num_samples > 1:
            return super()._generate(n, prime, temperature, top_k, seed, num_samples)
        import tensorflow as tf

        out = self.functions["generate"](
            prompt=tf.constant(prime), num_chars=tf.constant(n, tf.int32),
            temperature=tf.constant(temperature, tf.float32), top_k=tf.constant(top_k, tf.int32),
            seed=tf.constant([seed, 0], tf.int32))
        return [out["text"].numpy().decode("utf-8")]

    def _generate_ids(self, prime_ids, n, temperature, top_k, seed):
        """Many samples in one batch: the same in-graph sampler as `generate`, around the `step` signature."""
        import tensorflow as tf

        if self._batched is None:
            self._batched = batched_generator(self.functions["step"], self.layers, self.units)
        state = self.zero_state(len(prime_ids))
        ids = self._batched(tf.constant(prime_ids, tf.int32), tf.constant(state), tf.constant(n, tf.int32),
                            tf.constant(temperature, tf.float32), tf.constant(top_k, tf.int32),
                            tf.constant([seed, 0], tf.int32))
        return ids.numpy()


def batched_generator(step, layers: int, units: int):
    """A tf.function (prime [B, P], state, n, temperature, top_k, seed) -> ids [B, n] over a `step` fn."""
    import tensorflow as tf

    from charkeras.sampling import generate_ids

    def step_fn(ids, state):
        out = step(char_id=ids, state=state)
        return out["logits"], out["state"]

    @tf.function(input_signature=[
        tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, 2 * layers, units], tf.float32),
        tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.int32),
        tf.TensorSpec([2], tf.int32),
    ])
    def run(prime, state, n, temperature, top_k, seed):
        return generate_ids(step_fn, prime, state, n, temperature, top_k, seed)

    return run


def set_tf_threads(threads: int) -> bool:
    """Limit TensorFlow's thread pools; returns False (and changes nothing) once TensorFlow has run ops.

    Generating one sample is a chain of small ops: on a busy 2-core machine a 2x512 model made
    ~1,500 chars/s with one thread against 500-1,200 with the default pools (thread hand-offs cost
    more than they save). Batches have big enough matmuls to use the default pools.
    """
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow is already running (e.g. the CLI called in-process): keep its pools
        return False
    return True


# ---- finding and loading ----------------------------------------------------------------------------
def model_kind(path) -> tuple[str, Path]:
    """("export", base path) or ("run", run path); raises ModelLoadError for anything else."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"model not found: {path}")
    if not path.is_dir():
        raise ModelLoadError(f"{path} is a file; give an export directory (saved_models/NAME) or a training run")
    if (path / "saved_model.pb").is_file() and (path.parent / CARD_FILE).is_file():
        return "export", path.parent  # the version directory NAME/1 was given
    if (path / CARD_FILE).is_file():
        return "export", path
    if (path / "config.json").is_file():
        return "run", path
    raise ModelLoadError(f"{path} is neither a charkeras export (card.json + 1/saved_model.pb) "
                         "nor a training run (config.json)")


def read_card(base: Path) -> dict:
    try:
        card = json.loads((Path(base) / CARD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{base}/{CARD_FILE} is unreadable: {exc}") from None
    missing = [key for key in ("vocabulary", "layers", "units") if not isinstance(card, dict) or key not in card]
    if missing:
        raise ModelLoadError(f"{base}/{CARD_FILE} is not a charkeras model card (missing {', '.join(missing)})")
    return card


def card_vocabulary(card: dict, base: Path) -> Vocabulary:
    try:
        return Vocabulary.from_json(json.dumps({"tokens": card["vocabulary"]}))
    except (CorpusError, LookupError, TypeError, ValueError) as exc:  # a hand-edited vocabulary
        raise ModelLoadError(f"{base}/{CARD_FILE} has an invalid vocabulary: {exc}") from None


def version_dir(base: Path) -> Path:
    """The highest integer version directory holding a saved_model.pb (what TF Serving would serve)."""
    versions = [p for p in Path(base).iterdir() if p.name.isdigit() and (p / "saved_model.pb").is_file()]
    if not versions:
        raise ModelLoadError(f"{base} has no SavedModel version directory ({base}/1/saved_model.pb)")
    return max(versions, key=lambda p: int(p.name))


def fastest_runtime(path, precision: str = "float32") -> str | None:
    """The runtime `charkeras generate --runtime auto` uses: "tflite" for an export when LiteRT is
    installed (it skips TensorFlow's import, which dominates a short run) or when a .tflite precision
    other than float32 is asked for; otherwise None, the default of `load`."""
    try:
        kind, _ = model_kind(path)
    except ModelLoadError:
        return None  # `load` reports the problem
    if kind != "export":
        return None
    if precision != "float32":
        return "tflite"
    try:
        import ai_edge_litert.interpreter  # noqa: F401  (needed next anyway)
    except ImportError:
        return None
    return "tflite"


def load(path, runtime: str | None = None, *, precision: str = "float32", checkpoint: str = "best",
         lite_threads: int | None = None) -> CharModel:
    """Load an export or a training run. `runtime`: None picks "savedmodel" for exports, "keras" for runs.

    `precision` picks the .tflite file for runtime "tflite": float32, fp16 or int8 (if exported).
    `checkpoint` ("best", "latest" or a path) picks the checkpoint of a training run.
    `lite_threads`: LiteRT's threads for runtime "tflite" [default: the cores, at most 4].
    """
    if runtime is not None and runtime not in RUNTIMES:
        raise ConfigError(f"--runtime must be one of {', '.join(RUNTIMES)} (got {runtime!r})")
    kind, base = model_kind(path)
    if kind == "run":
        if runtime not in (None, "keras"):
            raise ModelLoadError(f"{base} is a training run: runtime {runtime!r} needs an export "
                                 f"(charkeras export {base} --out saved_models/NAME)")
        return _load_run(base, checkpoint)
    if runtime == "keras":
        raise ModelLoadError(f"{base} is an export; runtime 'keras' is for training runs "
                             "(use savedmodel or tflite)")
    card = read_card(base)
    vocab = card_vocabulary(card, base)
    if runtime == "tflite":
        from charkeras.lite_runtime import LiteCharModel

        return LiteCharModel.from_export(base, card, vocab, precision, lite_threads)
    return _load_saved_model(base, card, vocab)


def _load_saved_model(base: Path, card: dict, vocab: Vocabulary) -> CharModel:
    import tensorflow as tf

    directory = version_dir(base)
    try:
        loaded = tf.saved_model.load(str(directory))
        functions = {name: loaded.signatures[name] for name in ("generate", "step", "score")}
    except (LookupError, OSError, ValueError, tf.errors.OpError) as exc:  # truncated variables: IndexError
        first_line = (str(exc).strip().splitlines() or [repr(exc)])[0]
        raise ModelLoadError(f"cannot load the SavedModel in {directory}: {first_line}") from None
    model = SignatureCharModel(functions, vocab, card["layers"], card["units"], card, base)
    model.loaded = loaded  # the signatures' variables live as long as this object
    return model


def _load_run(path: Path, checkpoint: str) -> CharModel:
    from charkeras.export import signature_functions, step_model_from_run

    step_model, config, vocab, chosen = step_model_from_run(path, checkpoint)
    functions = signature_functions(step_model, vocab, config.model.layers, config.model.units)
    model = SignatureCharModel(functions, vocab, config.model.layers, config.model.units, None, path, "keras")
    model.checkpoint = chosen
    return model


def describe(path) -> dict:
    """What a model directory holds, without TensorFlow: the card of an export, or a run's files."""
    kind, base = model_kind(path)
    if kind == "export":
        return {"kind": "export", "path": str(base), "card": read_card(base)}
    from charkeras.checkpoint import RunDir, read_meta

    run = RunDir(base)
    best, latest = run.best_checkpoint(), run.latest_checkpoint()
    info = {"kind": "run", "path": str(base), "config": run.read_config().to_dict()}
    if (base / "run.json").is_file():
        info["run"] = run.read_run_info()
    for name, ckpt in (("best_checkpoint", best), ("latest_checkpoint", latest)):
        if ckpt is not None:
            meta = read_meta(ckpt)
            info[name] = {"path": str(ckpt), "step": meta.get("step"), "val_loss": meta.get("val_loss"),
                          "train_seconds": meta.get("train_seconds")}
    return info
