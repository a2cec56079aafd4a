"""`charkeras export`: a training run (or an export, to rebuild it) -> SavedModel + TFLite + card.json."""

from __future__ import annotations

from pathlib import Path

import click
from charkeras_cli.arguments import MODEL_HELP

from charkeras.artifact.layout import QUANTIZE_CHOICES


@click.command(name="export", epilog=MODEL_HELP)
@click.argument("model", metavar="MODEL")
@click.option("--out", default=None, metavar="DIR",
              help="Model base path to write [default: saved_models/<name of MODEL>].")
@click.option("--quantize", type=click.Choice(QUANTIZE_CHOICES), default=None,
              help="Also write model_int8.tflite (dynamic-range int8 weights).")
@click.option("--checkpoint", default="best", metavar="best|latest|PATH",
              help="Which checkpoint of a training run to export (best falls back to latest).")
@click.option("--force", is_flag=True, help="Replace an earlier export in --out.")
def export(model, out, quantize, checkpoint, force):
    """Export MODEL, a training run, for TF Serving (DIR/1/) and LiteRT (DIR/*.tflite).

    MODEL may also be an export: it is rebuilt from its own weights with this version of charkeras
    (for example to add --quantize int8 or pick up newer graphs), keeping its card's training facts.
    """
    from charkeras.artifact.layout import model_kind

    model_kind(model)  # a missing or unknown directory fails here, before TensorFlow loads
    from charkeras.exporting.writer import export as export_model

    out = Path(out) if out else Path("saved_models") / Path(model).resolve().name
    export_model(model, out, quantize=quantize, checkpoint=checkpoint, force=force, verbose=True)
    click.echo(f"exported {model} to {out}")
    click.echo(f"try: charkeras generate {out} --n 500")
