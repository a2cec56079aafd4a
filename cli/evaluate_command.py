"""`charkeras evaluate`: loss in nats/char, bpc and perplexity of a model on any text."""

from __future__ import annotations

import json

import click
from charkeras_cli.arguments import (
    MODEL_HELP,
    encoding_option,
    model_argument,
    runtime_options,
    text_option,
)
from charkeras_cli.progress_bar import progress_bar

from charkeras.errors import require
from charkeras.inspect.stream_scoring import CHUNK, DEFAULT_STREAMS, DEFAULT_WARMUP, plan_streams
from charkeras.runtime.limits import check_scoring_memory


@click.command(epilog=MODEL_HELP)
@model_argument
@text_option()
@runtime_options(default=None,
                 default_help=" [default: savedmodel for exports, run for training runs]")
@click.option("--tail", type=float, default=None,
              help="Evaluate only the last FRACTION of --text (0.1 = the standard validation "
                   "split); the rest is the n-gram baseline's training text.")
@click.option("--baseline", type=click.Choice(["none", "ngram"]), default="none",
              help="Also report a character n-gram model (order chosen on its training text).")
@click.option("--train-text", type=click.Path(exists=False), default=None,
              help="Training text for the n-gram baseline (default: the head of --text with "
                   "--tail).")
@click.option("--streams", type=int, default=DEFAULT_STREAMS,
              help="Score the text as N contiguous streams in parallel, each after a warm-up "
                   "(fast).")
@click.option("--warmup", type=int, default=DEFAULT_WARMUP,
              help="Characters each stream reads before its own, not counted (its history).")
@click.option("--exact", is_flag=True,
              help="Score one character at a time from the start, the slow reference way (the "
                   "streams agree with it to about 1e-6 relative).")
@encoding_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def evaluate(model_path, text_path, runtime, precision, checkpoint, tail, baseline, train_text,
             streams, warmup, exact, encoding, as_json):
    """Loss of MODEL on the --text: nats/char, bits/char and perplexity."""
    from charkeras.inspect.evaluation import evaluate_model, evaluate_ngram, split_tail
    from charkeras.runtime.loading import load
    from charkeras.text.reading import read_text

    text = read_text(text_path, encoding)
    head = ""
    if tail is not None:
        head, text = split_tail(text, tail)
    require(baseline != "ngram" or train_text is not None or tail is not None,
            "--baseline ngram needs a training text: pass --train-text FILE or --tail FRACTION")
    loaded = load(model_path, runtime, precision=precision, checkpoint=checkpoint)
    if not exact:
        require(streams >= 1 and warmup >= 0,
                f"--streams must be >= 1 and --warmup >= 0 (got {streams}, {warmup})")
        plan = plan_streams(len(text), streams, warmup)
        check_scoring_memory(plan.streams, min(CHUNK, plan.steps), loaded.layers, loaded.units,
                             len(loaded.vocab))
    with progress_bar("scoring") as progress:
        result = {"model": evaluate_model(loaded, text, exact=exact, streams=streams, warmup=warmup,
                                          progress=progress)}
    if baseline == "ngram":
        result["ngram"] = evaluate_ngram(loaded.vocab, read_text(train_text, encoding) if train_text
                                         else head, text)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"{'':<14}{'nats/char':>10}{'bpc':>9}{'perplexity':>12}   chars")
    for name, r in result.items():
        label = f"{name} (order {r['order']})" if name == "ngram" else name
        click.echo(f"{label:<14}{r['nats_per_char']:>10.4f}{r['bpc']:>9.4f}"
                   f"{r['perplexity']:>12.3f}   {r['chars']:,}")
