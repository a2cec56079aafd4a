"""`charkeras visualize`: an HTML page of the text coloured by one cell, with the model's top guesses.

The model options here are shared with `charkeras cells`. TensorFlow loads only once the options
are checked and the text is read, so mistakes fail fast.
"""

from __future__ import annotations

import click

from charkeras.lite_runtime import PRECISIONS
from charkeras.runtime import RUNTIMES

SIGNALS = {"c": "tanh(c), the squashed cell state", "h": "h, the layer output"}


def model_options(command):
    """--model, --text and the options that pick how the model runs."""
    for decorator in reversed([
        click.option("--model", "model_path", required=True, metavar="PATH",
                     help="An export (saved_models/NAME) or a training run directory (runs/NAME)."),
        click.option("--text", "text_path", required=True, type=click.Path(dir_okay=False),
                     help="The text to run the model over."),
        click.option("--encoding", default="utf-8", help="Encoding of the --text file."),
        click.option("--runtime", type=click.Choice(("auto", *RUNTIMES)), default="auto",
                     help="auto: LiteRT for exports when ai-edge-litert is installed, else the SavedModel; "
                          "Keras for training runs."),
        click.option("--precision", type=click.Choice(tuple(PRECISIONS)), default="float32",
                     help="Which .tflite file --runtime tflite runs."),
        click.option("--checkpoint", default="best", metavar="best|latest|PATH",
                     help="Checkpoint of a training run."),
    ]):
        command = decorator(command)
    return command


def run_trace(model_path, text_path, encoding, runtime, precision, checkpoint, max_chars):
    """Read the text, load the model, and trace it; unknown characters get one warning line."""
    from charkeras.activations import read_text, trace
    from charkeras.runtime import fastest_runtime, load

    text = read_text(text_path, encoding, max_chars)
    if runtime == "auto":
        runtime = fastest_runtime(model_path, precision)
    model = load(model_path, runtime, precision=precision, checkpoint=checkpoint)
    unknown = model.vocab.unknown_chars(text)
    if unknown:
        shown = ", ".join(repr(ch) for ch in unknown[:20]) + (", ..." if len(unknown) > 20 else "")
        click.echo(f"warning: {len(unknown)} characters not in the model's vocabulary are read as unknown: "
                   f"{shown}", err=True)
    return trace(model, text)


@click.command()
@model_options
@click.option("--out", default="viz.html", type=click.Path(dir_okay=False), help="The HTML page to write.")
@click.option("--max-chars", type=int, default=3000,
              help="Use only the first N characters (the page holds every cell for each character).")
@click.option("--signal", type=click.Choice(list(SIGNALS)), default="c",
              help="Signal shown first: c = tanh(c), h = h (the page can switch).")
@click.option("--layer", type=int, default=None, help="Layer shown first [default: the liveliest cell's].")
@click.option("--cell", type=int, default=None, help="Cell shown first [default: the one varying most].")
def visualize(model_path, text_path, encoding, runtime, precision, checkpoint, out, max_chars, signal, layer,
              cell):
    """Write a self-contained HTML page: the text coloured by a chosen LSTM cell, with the top-5
    next-character guesses under every character."""
    from charkeras.errors import ConfigError
    from charkeras.viewer import most_varied_cell, write_page

    result = run_trace(model_path, text_path, encoding, runtime, precision, checkpoint, max_chars)
    if layer is None or cell is None:
        best_layer, best_cell = most_varied_cell(result, signal)
        layer = best_layer if layer is None else layer
        cell = best_cell if cell is None else cell
    if not 0 <= layer < result.layers:
        raise ConfigError(f"--layer must be in [0, {result.layers - 1}] (got {layer})")
    if not 0 <= cell < result.units:
        raise ConfigError(f"--cell must be in [0, {result.units - 1}] (got {cell})")
    write_page(out, result, title=f"charkeras: {model_path} on {text_path}", initial=(signal, layer, cell))
    click.echo(f"wrote {out}: {len(result.text)} characters, {result.layers} layers x {result.units} cells "
               f"(opened on layer {layer}, cell {cell})")
