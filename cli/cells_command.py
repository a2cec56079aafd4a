"""`charkeras cells`: find interpretable cells by correlating every cell with built-in text
probes."""

from __future__ import annotations

import click
from charkeras_cli.arguments import MODEL_HELP
from charkeras_cli.visualize_command import SIGNALS, model_and_text_options, run_trace

from charkeras.errors import require, warn
from charkeras.inspect.probes import PROBES  # numpy only: keeps --help free of TensorFlow


@click.command(epilog=MODEL_HELP)
@model_and_text_options
@click.option("--out", default="cells.html", type=click.Path(dir_okay=False),
              help="Viewer page opened on the best cell, with every found cell one click away.")
@click.option("--max-chars", type=int, default=10000, help="Characters of the text analysed.")
@click.option("--page-chars", type=int, default=3000,
              help="Characters shown in the page (its size grows with this).")
@click.option("--top", type=int, default=3, help="Best cells listed per probe.")
@click.option("--signal", type=click.Choice(list(SIGNALS)), default="c",
              help="Correlate tanh(c) (c) or h (h).")
@click.option("--probe", "probes", multiple=True, type=click.Choice(list(PROBES)),
              help="Only these probes (repeatable) [default: all].")
def cells(model_path, text_path, encoding, runtime, precision, checkpoint, out, max_chars,
          page_chars, top, signal, probes):
    """Find cells of MODEL that track quotes, brackets, line position, comments, word starts and
    newlines in the --text.

    Prints the best cells per probe with their Pearson correlation r over the text (the sign says
    whether the cell is high or low where the probe is), and writes a viewer page.
    """
    from charkeras.inspect.probes import find_cells, format_table, rare_probes_warning
    from charkeras.inspect.viewer import write_page

    require(top >= 1, f"--top must be >= 1 (got {top})")
    require(page_chars >= 1, f"--page-chars must be >= 1 (got {page_chars})")
    result = run_trace(model_path, text_path, encoding, runtime, precision, checkpoint, max_chars)
    finding = find_cells(result, kind=signal, top=top, probes=probes or None)
    click.echo(f"{finding.chars} characters, {result.layers} layers x {result.units} cells; "
               f"|r| ranks the cells for each probe:")
    click.echo(format_table(finding))
    if rare_probes_warning(finding) is not None:
        warn(rare_probes_warning(finding))
    best = max(finding.matches, key=lambda m: abs(m.r), default=None)
    initial = None if best is None else (best.kind, best.layer, best.unit)
    write_page(out, result.head(page_chars), title=f"charkeras cells: {model_path} on {text_path}",
               initial=initial, highlights=finding.matches)
    click.echo(f"wrote {out}" + ("" if best is None else
                                 f" (opened on layer {best.layer}, cell {best.unit}: {best.probe}, "
                                 f"r={best.r:+.3f})"))
