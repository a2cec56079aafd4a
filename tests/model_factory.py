"""Small random-weight models for export and runtime tests (no training needed).

The output layer is scaled up so next-character distributions are peaked like a trained model's;
near-uniform logits would make argmax comparisons between float32 and float16 meaningless.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEXT = (REPO / "data" / "tinyshakespeare.txt").read_text(encoding="utf-8")[:3000]


def random_step_model(vocab, units=16, layers=2, embedding_dim=8, seed=0, sharpen=6.0):
    """(step model, CharConfig) with seeded random weights."""
    from charkeras.config import CharConfig
    from charkeras.model.networks import build_inference_model

    cfg = CharConfig().replace(model={"units": units, "layers": layers, "embedding_dim": embedding_dim,
                                      "vocab_size": len(vocab)})
    step = build_inference_model(cfg.model, seed=seed)
    dense = step.get_layer("logits")
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel * sharpen, bias])
    return step, cfg


def export_random_model(out, quantize=None, force=False, **kwargs):
    """Export a random model of TEXT's vocabulary to `out`; returns (step model, config, vocab)."""
    from charkeras.exporting.writer import export_model
    from charkeras.text.vocabulary import Vocabulary

    vocab = Vocabulary.from_text(TEXT)
    step, cfg = random_step_model(vocab, **kwargs)
    export_model(step, cfg, vocab, out, quantize=quantize, force=force)
    return step, cfg, vocab


def train_tiny_run(root):
    """A 2x16 model trained for one epoch on 6,000 characters of Shakespeare; returns the run directory."""
    from charkeras.config import CharConfig
    from charkeras.train.driver import fit

    corpus = root / "slice.txt"
    corpus.write_text((REPO / "data" / "tinyshakespeare.txt").read_text(encoding="utf-8")[:6000], encoding="utf-8")
    config = CharConfig().replace(
        model={"units": 16, "layers": 2, "embedding_dim": 8, "dropout": 0.1},
        data={"batch_size": 4, "seq_len": 16, "val_frac": 0.2},
        train={"epochs": 1, "checkpoint_every": 0, "sample_every": 0, "sample_len": 10})
    fit(corpus, root / "run", config, verbose=0, cache_dir=root / "cache")
    return root / "run"
