"""`charkeras info`: what a model is, from its card.json (or a training run's files). No
TensorFlow."""

from __future__ import annotations

import json

import click
from charkeras_cli.arguments import MODEL_HELP

from charkeras.inspect.describe import describe
from charkeras.probability import bits


@click.command(epilog=MODEL_HELP)
@click.argument("model", metavar="MODEL")
@click.option("--json", "as_json", is_flag=True, help="Print the raw card / run facts as JSON.")
def info(model, as_json):
    """Describe MODEL: what it is, how it was trained, which files it has. Reads no TensorFlow."""
    facts = describe(model)
    if as_json:
        click.echo(json.dumps(facts, indent=2, ensure_ascii=False))
    elif facts["kind"] == "export":
        click.echo(format_card(facts["path"], facts["card"]))
    else:
        click.echo(format_run(facts))


def _rows(pairs) -> list[str]:
    pairs = [(k, v) for k, v in pairs if v is not None]
    width = max(len(k) for k, _ in pairs)
    return [f"  {k.ljust(width)}  {v}" for k, v in pairs]


def _loss(val_loss) -> str | None:
    if val_loss is None:
        return "n/a"
    return f"{val_loss:.4f} nats/char ({bits(val_loss):.4f} bits/char)"


def _checkpoint_loss(c: dict) -> str:
    """The val loss of the checkpoint's own step, or that it was not validated (and the last one
    that was)."""
    if "validated" not in c:  # an older describe() dict
        return f"val loss {_loss(c['val_loss'])}"
    if c["validated"]:
        return f"val loss {_loss(c['val_loss_at_step'])}"
    last = c.get("last_validation")
    before = f"; last validated at step {last['step']}: {_loss(last['val_loss'])}" if last else ""
    return f"not validated at this step{before}"


def _base(base: dict | None) -> str | None:
    """The base a fine-tuned model started from (`fit --init-from`), or None."""
    if not base:
        return None
    where = f"{base.get('kind')}" + (f", checkpoint {base['checkpoint']} (step {base.get('step')})"
                                     if base.get("checkpoint") else "")
    return (f"{base.get('path')} ({where}; val loss {_loss(base.get('val_loss'))}; weights sha256 "
            f"{base.get('weights_sha256')}; {base.get('added_chars', 0)} characters added)")


def _duration(seconds) -> str | None:
    if seconds is None:
        return "n/a"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h {rest // 60:02d}m {rest % 60:02d}s"


def format_card(path: str, card: dict) -> str:
    model = card.get("config", {}).get("model", {})
    training = card.get("training") or {}
    vocab = card["vocabulary"][2:]
    preview = "".join(vocab[:80]).encode("unicode_escape").decode("ascii")
    lines = [f"charkeras export {path}", *_rows([
        ("model", (f"{card['layers']} x LSTM({card['units']}), embedding "
                   f"{model.get('embedding_dim')}, dropout {model.get('dropout')}")),
        ("parameters", f"{card.get('parameters', 0):,}"),
        ("vocabulary",
         f"{len(card['vocabulary'])} ids (0 padding, 1 unknown, {len(vocab)} characters)"),
        ("characters", preview + (" ..." if len(vocab) > 80 else "")),
        ("charkeras", card.get("charkeras_version")),
        ("exported", card.get("exported_at")),
    ])]
    if training:
        lines += ["training", *_rows([
            ("corpus", training.get("corpus_source")),
            ("corpus sha256", training.get("corpus_sha256")),
            ("val loss", _loss(training.get("val_loss"))),
            ("checkpoint", f"{training.get('checkpoint')} (step {training.get('step')})"),
            ("training time", _duration(training.get("train_seconds"))),
            ("hardware", training.get("hardware")),
            ("exported on", training.get("exported_on")),
            ("started from", _base(training.get("base"))),
        ])]
    saved_model = card.get("saved_model", {})
    files = [(f"{saved_model.get('version_dir', '1')}/",
              "SavedModel: signatures " + ", ".join(saved_model.get("signatures", [])))]
    for name, facts in (card.get("tflite") or {}).items():
        check = ""
        if "argmax_agreement" in facts:
            check = (f"; vs SavedModel over {facts['check_steps']} steps: argmax agreement "
                     f"{facts['argmax_agreement']:.1%}, max prob diff {facts['max_prob_diff']:.2g}")
        files.append((name, f"{facts['bytes'] / 1e6:.2f} MB{check}"))
    lines += ["files", *_rows(files)]
    return "\n".join(lines)


def format_run(facts: dict) -> str:
    model = facts["config"]["model"]
    run = facts.get("run", {})
    path = facts["path"]
    lines = [f"charkeras training run {path} (export it with: charkeras export {path})",
             *_rows([
                 ("model", (f"{model['layers']} x LSTM({model['units']}), embedding "
                            f"{model['embedding_dim']}, dropout {model['dropout']}, "
                            f"vocabulary {model['vocab_size']}")),
                 ("corpus", run.get("source")),
                 ("corpus sha256", run.get("sha256")),
                 ("started from", _base(run.get("base"))),
             ])]
    for name in ("best_checkpoint", "latest_checkpoint"):
        if name in facts:
            c = facts[name]
            summary = (f"step {c['step']}, {_checkpoint_loss(c)}, "
                       f"trained {_duration(c['train_seconds'])}")
            lines += _rows([(name.replace("_", " "), summary)])
    if "best_checkpoint" not in facts and "latest_checkpoint" not in facts:
        lines.append("  no checkpoint yet")
    return "\n".join(lines)
