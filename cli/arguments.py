"""Arguments and options that several commands share, so each is spelt and explained one way.

Every command that works on a model takes it as its first argument, MODEL (an export or a training
run); commands that read a text take `--text FILE` (fit's CORPUS is the exception: it is what fit is
about).
"""

from __future__ import annotations

import click

from charkeras.artifact.layout import PRECISIONS
from charkeras.runtime.loading import RUNTIMES

MODEL_HELP = "MODEL is an export (saved_models/NAME) or a training run directory (runs/NAME)."


def model_argument(command):
    """MODEL as the first argument (`MODEL_HELP` says what it may be)."""
    return click.argument("model_path", metavar="MODEL")(command)


def runtime_options(default: str | None = "auto", default_help: str = ""):
    """--runtime, --precision and --checkpoint: how and from which file a model runs."""

    def decorate(command):
        for decorator in reversed([
            click.option("--runtime", type=click.Choice(RUNTIMES), default=default,
                         show_default=default is not None,
                         help="auto: LiteRT for exports when ai-edge-litert is installed (no "
                              "TensorFlow import), else the SavedModel; run: a training run's "
                              "checkpoint in memory." + default_help),
            click.option("--precision", type=click.Choice(PRECISIONS), default="float32",
                         help="Which .tflite file --runtime tflite runs."),
            click.option("--checkpoint", default="best", metavar="best|latest|PATH",
                         help="Checkpoint of a training run."),
        ]):
            command = decorator(command)
        return command

    return decorate


def text_option(required: bool = True):
    return click.option("--text", "text_path", required=required, type=click.Path(dir_okay=True),
                        help="The text file (or directory of files) to run the model over.")


def encoding_option(command):
    return click.option("--encoding", default="utf-8", help="Encoding of the text files.")(command)
