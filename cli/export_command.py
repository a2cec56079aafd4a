"""`charkeras export`: a training run (or an export, to rebuild it) -> SavedModel + TFLite +
card.json."""

from __future__ import annotations

from pathlib import Path

import click
from charkeras_cli.arguments import MODEL_HELP

from charkeras.artifact.layout import DEFAULT_KEEP_VERSIONS, QUANTIZE_CHOICES
from charkeras.errors import require


@click.command(name="export", epilog=MODEL_HELP)
@click.argument("model", metavar="MODEL")
@click.option("--out", default=None, metavar="DIR",
              help="Model base path to write [default: saved_models/<name of MODEL>].")
@click.option("--quantize", type=click.Choice(QUANTIZE_CHOICES), default=None,
              help="Also write model_int8.tflite (dynamic-range int8 weights).")
@click.option("--checkpoint", default="best", metavar="best|latest|PATH",
              help="Which checkpoint of a training run to export (best falls back to latest).")
@click.option("--keep-versions", type=int, default=DEFAULT_KEEP_VERSIONS, metavar="N",
              help="Version directories kept in --out when exporting into an existing export (the "
                   "newest N).")
@click.option("--force", is_flag=True,
              help="Replace --out when it is a non-empty directory that is not an export (its "
                   "files are deleted). Not needed to export again into an export.")
def export(model, out, quantize, checkpoint, keep_versions, force):
    """Export MODEL, a training run, for TF Serving (DIR/1/) and LiteRT (DIR/*.tflite).

    Exporting into an existing export adds its next version directory (DIR/2/, ...: a running TF
    Serving picks it up), replaces the .tflite files and card.json, and keeps the newest
    --keep-versions versions.

    MODEL may also be an export: it is rebuilt from its own weights with this version of charkeras
    (for example to add --quantize int8 or pick up newer graphs), keeping its card's training facts.
    """
    from charkeras.artifact.layout import check_export_target, model_kind

    # a missing or unknown directory or a bad --out fails here, before TensorFlow loads
    model_kind(model)
    require(keep_versions >= 1, f"--keep-versions must be >= 1 (got {keep_versions})")
    out = Path(out) if out else Path("saved_models") / Path(model).resolve().name
    check_export_target(out, force)
    from charkeras.exporting.writer import export as export_model

    export_model(model, out, quantize=quantize, checkpoint=checkpoint, force=force,
                 keep_versions=keep_versions, verbose=True)
    click.echo(f"exported {model} to {out}")
    click.echo(f"try: charkeras generate {out} --n 500")
