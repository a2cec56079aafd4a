"""`charkeras export`: a training run (or an export, to rebuild it) -> SavedModel + TFLite + card.json."""

from __future__ import annotations

from pathlib import Path

import click

from charkeras.export import QUANTIZE_CHOICES  # charkeras.export imports TensorFlow only when exporting


@click.command(name="export")
@click.argument("run", metavar="RUN")
@click.option("--out", default=None, metavar="DIR",
              help="Model base path to write [default: saved_models/<name of RUN>].")
@click.option("--quantize", type=click.Choice(QUANTIZE_CHOICES), default=None,
              help="Also write model_int8.tflite (dynamic-range int8 weights).")
@click.option("--checkpoint", default="best", metavar="best|latest|PATH",
              help="Which checkpoint of RUN to export (best falls back to latest).")
@click.option("--force", is_flag=True, help="Replace an earlier export in --out.")
def export(run, out, quantize, checkpoint, force):
    """Export the training run RUN for TF Serving (DIR/1/) and LiteRT (DIR/*.tflite).

    RUN may also be an export: it is rebuilt from its own weights with this version of charkeras
    (for example to add --quantize int8 or pick up newer graphs), keeping its card's training facts.
    """
    from charkeras.export import export as export_run
    from charkeras.runtime import model_kind

    model_kind(run)  # a missing or unknown directory fails here, before TensorFlow loads
    out = Path(out) if out else Path("saved_models") / Path(run).resolve().name
    export_run(run, out, quantize=quantize, checkpoint=checkpoint, force=force, verbose=True)
    click.echo(f"exported {run} to {out}")
    click.echo(f"try: charkeras generate --model {out} --n 500")
