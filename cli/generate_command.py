"""`charkeras generate`: sample text from an export or a training run.

Nothing heavy is imported before the options are checked, and the LiteRT runtime never imports
TensorFlow, so a bad option fails at once and LiteRT generation starts in a fraction of a second.
That is why `--runtime auto` picks LiteRT for an export when it can: both runtimes draw the same
random numbers, so a seed gives the same text either way.
"""

from __future__ import annotations

import secrets
import warnings

import click

from charkeras.lite_runtime import PRECISIONS
from charkeras.runtime import RUNTIMES


@click.command()
@click.option("--model", "model_path", required=True, metavar="PATH",
              help="An export (saved_models/NAME) or a training run directory (runs/NAME).")
@click.option("--n", "n", type=int, default=500, help="Characters to generate per sample.")
@click.option("--prime", default="", help="Text fed to the model first (printed before the continuation). "
                                          "Empty: start after a newline.")
@click.option("--temperature", type=float, default=0.8, help="Sampling temperature; 0 = greedy.")
@click.option("--top-k", type=int, default=0, help="Sample only among the K most likely characters; 0 = all.")
@click.option("--seed", type=int, default=None, help="Random seed (printed to stderr when not given).")
@click.option("--num-samples", type=int, default=1, help="Independent samples, generated in one batch.")
@click.option("--runtime", type=click.Choice(("auto", *RUNTIMES)), default="auto",
              help="auto: LiteRT for exports when ai-edge-litert is installed (no TensorFlow import), else "
                   "the SavedModel; Keras for training runs.")
@click.option("--precision", type=click.Choice(tuple(PRECISIONS)), default="float32",
              help="Which .tflite file --runtime tflite runs.")
@click.option("--checkpoint", default="best", metavar="best|latest|PATH",
              help="Checkpoint of a training run.")
@click.option("--threads", type=int, default=None,
              help="Threads: TensorFlow's [default: 1 for a single sample, all cores for --num-samples > 1] "
                   "or LiteRT's [default: the cores, at most 4].")
def generate(model_path, n, prime, temperature, top_k, seed, num_samples, runtime, precision, checkpoint,
             threads):
    """Generate text from a model: an export or a training run."""
    from charkeras.errors import ConfigError
    from charkeras.runtime import check_generate_args, fastest_runtime, load, set_tf_threads

    seed_given = seed is not None
    if not seed_given:
        seed = secrets.randbelow(2**31)
    check_generate_args(n, temperature, top_k, seed, num_samples)
    if threads is not None and threads < 0:
        raise ConfigError(f"--threads must be >= 0 (got {threads}); 0 means the runtime's default")
    if runtime == "auto":
        runtime = fastest_runtime(model_path, precision)
    if runtime != "tflite":
        tf_threads = threads if threads is not None else (1 if num_samples == 1 else 0)
        if tf_threads:
            set_tf_threads(tf_threads)
    model = load(model_path, runtime, precision=precision, checkpoint=checkpoint, lite_threads=threads or None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        texts = model.generate(n, prime=prime, temperature=temperature, top_k=top_k, seed=seed,
                               num_samples=num_samples)
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    if not seed_given:
        click.echo(f"(seed {seed}: pass --seed {seed} to repeat this)", err=True)
    if num_samples == 1:
        click.echo(prime + texts)
        return
    for i, text in enumerate(texts, 1):
        click.echo(f"----- sample {i}/{num_samples} -----")
        click.echo(prime + text)
