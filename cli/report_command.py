"""`charkeras report`: rebuild a run's report.html and loss.png from its logs and samples."""

from __future__ import annotations

import click

from charkeras.train.run.report import write_report


@click.command()
@click.argument("run", metavar="RUN", type=click.Path(file_okay=False))
def report(run):
    """Regenerate RUN/report.html (loss curves, learning rate, samples in order) and RUN/loss.png.

    RUN is a training run directory (runs/NAME). Training rewrites them at every epoch end; this
    rebuilds them at any time.
    """
    path = write_report(run)
    click.echo(f"wrote {path}")
