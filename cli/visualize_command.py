"""`charkeras visualize`: an HTML page of the text coloured by one cell, with the model's top
guesses.

The model and text options here are shared with `charkeras cells`. TensorFlow loads only once the
options are checked and the text is read, so mistakes fail fast.
"""

from __future__ import annotations

import click
from charkeras_cli.arguments import (
    MODEL_HELP,
    encoding_option,
    model_argument,
    runtime_options,
    text_option,
)

from charkeras.errors import require, warn
from charkeras.runtime.limits import check_trace_memory

SIGNALS = {"c": "tanh(c), the squashed cell state", "h": "h, the layer output"}


def model_and_text_options(command):
    """MODEL, --text and the options that pick how the model runs."""
    for decorator in reversed([model_argument, text_option(), encoding_option, runtime_options()]):
        command = decorator(command)
    return command


def run_trace(model_path, text_path, encoding, runtime, precision, checkpoint, max_chars):
    """Read the text, load the model, and trace it; unknown characters get one warning line."""
    from charkeras.inspect.traces import trace
    from charkeras.runtime.loading import load
    from charkeras.text.reading import read_text

    text = read_text(text_path, encoding, max_chars)
    model = load(model_path, runtime, precision=precision, checkpoint=checkpoint)
    check_trace_memory(len(text), model.layers, model.units, len(model.vocab))
    unknown = model.vocab.unknown_chars(text)
    if unknown:
        shown = ", ".join(repr(ch) for ch in unknown[:20]) + (", ..." if len(unknown) > 20 else "")
        warn(f"{len(unknown)} characters not in the model's vocabulary are read as unknown: "
             f"{shown}")
    return trace(model, text)


@click.command(epilog=MODEL_HELP)
@model_and_text_options
@click.option("--out", default="viz.html", type=click.Path(dir_okay=False),
              help="The HTML page to write.")
@click.option("--max-chars", type=int, default=3000,
              help="Use only the first N characters (the page holds every cell for each "
                   "character).")
@click.option("--signal", type=click.Choice(list(SIGNALS)), default="c",
              help="Signal shown first: c = tanh(c), h = h (the page can switch).")
@click.option("--layer", type=int, default=None,
              help="Layer shown first [default: the liveliest cell's].")
@click.option("--cell", type=int, default=None,
              help="Cell shown first [default: the one varying most].")
def visualize(model_path, text_path, encoding, runtime, precision, checkpoint, out, max_chars,
              signal, layer, cell):
    """Write a self-contained HTML page: the --text coloured by a chosen LSTM cell of MODEL, with
    the top-5 next-character guesses under every character."""
    from charkeras.inspect.viewer import most_varied_cell, write_page

    result = run_trace(model_path, text_path, encoding, runtime, precision, checkpoint, max_chars)
    if layer is None or cell is None:
        best_layer, best_cell = most_varied_cell(result, signal)
        layer = best_layer if layer is None else layer
        cell = best_cell if cell is None else cell
    require(0 <= layer < result.layers,
            f"--layer must be in [0, {result.layers - 1}] (got {layer})")
    require(0 <= cell < result.units, f"--cell must be in [0, {result.units - 1}] (got {cell})")
    write_page(out, result, title=f"charkeras: {model_path} on {text_path}",
               initial=(signal, layer, cell))
    click.echo(f"wrote {out}: {len(result.text)} characters, {result.layers} layers x "
               f"{result.units} cells (opened on layer {layer}, cell {cell})")
