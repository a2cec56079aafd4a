"""`charkeras generate`: sample text from an export or a training run.

Nothing heavy is imported before the options are checked, and the LiteRT runtime never imports
TensorFlow, so a bad option fails at once and LiteRT generation starts in a fraction of a second.
That is why `--runtime auto` picks LiteRT for an export when it can: both runtimes draw the same
random numbers, so a seed gives the same text either way.
"""

from __future__ import annotations

import secrets

import click
from charkeras_cli.arguments import MODEL_HELP, model_argument, runtime_options

from charkeras.errors import require
from charkeras.inspect.novelty import known_lines, novel_lines
from charkeras.runtime.char_model import check_generate_args
from charkeras.runtime.limits import (
    PRIME_MAX_CHARS,
    check_generation_memory,
    check_prime,
    check_threads,
)
from charkeras.text.reading import read_text
from charkeras.text.vocabulary import check_unicode


@click.command(epilog=MODEL_HELP)
@model_argument
@click.option("--n", "n", type=int, default=500, help="Characters to generate per sample.")
@click.option("--prime", default="",
              help="Text fed to the model first (printed before the continuation). Empty: start "
                   "after a newline.")
@click.option("--temperature", type=float, default=0.8, help="Sampling temperature; 0 = greedy.")
@click.option("--top-k", type=int, default=0,
              help="Sample only among the K most likely characters; 0 = all.")
@click.option("--seed", type=int, default=None,
              help="Random seed (printed to stderr when not given).")
@click.option("--num-samples", type=int, default=1,
              help="Independent samples, generated in one batch.")
@click.option("--prime-file", type=click.Path(dir_okay=False), default=None,
              help="Read the prime from FILE (UTF-8) instead of --prime.")
@click.option("--beam", type=int, default=0,
              help="Beam search with N beams: the most likely continuation, deterministic "
                   "(--temperature, --top-k and --seed do not apply); runs on TensorFlow with "
                   "keras_hub's BeamSampler.")
@click.option("--novel-against", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Print only the generated lines that do not occur in FILE (e.g. the training "
                   "text); stderr says how many were left out.")
@runtime_options()
@click.option("--threads", type=int, default=None,
              help="Threads: TensorFlow's [default: 1 for a single sample, all cores for "
                   "--num-samples > 1] or LiteRT's [default: the cores, at most 4]; at most 4 per "
                   "core.")
def generate(model_path, n, prime, temperature, top_k, seed, num_samples, prime_file, beam,
             novel_against, runtime, precision, checkpoint, threads):
    """Generate text from MODEL."""
    from charkeras.artifact.layout import model_kind
    from charkeras.runtime.loading import load, resolve_runtime

    seed_given = seed is not None
    if not seed_given:
        seed = secrets.randbelow(2**31)
    check_generate_args(n, temperature, top_k, seed, num_samples)
    if prime_file is not None:
        require(not prime, "give the prime once: --prime TEXT or --prime-file FILE")
        # one character more than the maximum: enough to refuse a longer prime
        prime = read_text(prime_file, max_chars=PRIME_MAX_CHARS + 1, encoding_option=None)
    check_prime(prime)
    known = None
    if novel_against is not None:
        known = known_lines(read_text(novel_against, encoding_option=None))
    require(beam >= 0, f"--beam must be >= 1 beams (got {beam}); 0 means sampling")
    require(not beam or num_samples == 1,
            "--beam gives the one most likely continuation: drop --num-samples")
    if beam:  # TensorFlow's runtimes: the SavedModel for an export unless one was named
        require(runtime != "tflite", "--beam runs on TensorFlow: use --runtime savedmodel (or run)")
        runtime = None if runtime == "auto" else runtime
    check_unicode(prime, "--prime")  # not UTF-8: refused, not guessed (docs/guarantees.md)
    require(threads is None or threads >= 0,
            f"--threads must be >= 0 (got {threads}); 0 means the runtime's default")
    check_threads(threads)
    runtime = resolve_runtime(model_kind(model_path)[0], runtime, precision)
    if runtime != "tflite":
        from charkeras.threads import configure_generation_threads  # TensorFlow: these only

        tf_threads = threads if threads is not None else (1 if num_samples == 1 else 0)
        if tf_threads:
            configure_generation_threads(tf_threads)
    loaded = load(model_path, runtime, precision=precision, checkpoint=checkpoint,
                  lite_threads=threads or None)
    if beam:
        from charkeras.runtime.beam import beam_generate  # TensorFlow, keras_hub: --beam only

        check_generation_memory(n + len(prime), beam, loaded.layers, loaded.units,
                                len(loaded.vocab), rows="--beam")
        texts = beam_generate(loaded, n, prime, beam)
    else:
        texts = loaded.generate(n, prime=prime, temperature=temperature, top_k=top_k, seed=seed,
                                num_samples=num_samples)
    if not seed_given and not beam:
        click.echo(f"(seed {seed}: pass --seed {seed} to repeat this)", err=True)
    if known is not None:
        _print_novel(prime, [texts] if num_samples == 1 else texts, known, novel_against)
        return
    if num_samples == 1:
        click.echo(prime + texts)
        return
    for i, text in enumerate(texts, 1):
        click.echo(f"----- sample {i}/{num_samples} -----")
        click.echo(prime + text)


def _print_novel(prime: str, texts: list[str], known: set[str], path: str) -> None:
    kept_all, total = [], 0
    for text in texts:
        kept, count = novel_lines(prime, text, known)
        kept_all += kept
        total += count
    for line in kept_all:
        click.echo(line)
    click.echo(f"(--novel-against {path}: {len(kept_all)} of {total} generated lines are new; "
               f"{total - len(kept_all)} occur in it)", err=True)
