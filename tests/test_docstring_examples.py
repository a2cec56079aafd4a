"""The examples in the public API's docstrings run and print what they say they print.

Each public function, method and config section below documents itself in Google style with an
`Examples:` block, which the Python API page renders. The tests run every block with doctest in a
workspace holding what the examples name: `corpus.txt` (the first 20,000 characters of tiny
Shakespeare), the shipped `saved_models/shakespeare`, and `runs/small`, the run that
`charkeras.fit`'s own example trains (it runs first, once).
"""

from __future__ import annotations

import doctest
import inspect
import re
import signal
from pathlib import Path

import pytest

import charkeras

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "saved_models" / "shakespeare"
CORPUS_CHARS = 20_000
EXAMPLE_SECONDS = 180  # per docstring: TensorFlow's import, a tiny training run or an export

FUNCTIONS = ("fit", "export", "load", "CharModel.generate", "CharModel.score", "CharModel.step")
CLASSES = ("CharModel", "CharConfig", "ModelConfig", "DataConfig", "TrainConfig")
WITH_EXAMPLES = (*FUNCTIONS, *CLASSES[1:])
NEEDS_THE_RUN = {"export", "load"}  # they use runs/small, which the fit example trains
TRAIN = {"fit", *NEEDS_THE_RUN}  # train or export a model: slow


def public(name: str):
    obj = charkeras
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def section(doc: str, title: str) -> str | None:
    """The body of a Google-style section (`Title:` at the docstring's margin), or None."""
    found = re.search(rf"^{title}:\n(.*?)(?=^\S[^\n]*:\n|\Z)", doc, re.MULTILINE | re.DOTALL)
    return found.group(1) if found else None


class ExampleTimeout(Exception):
    pass


def run_examples(name: str) -> str:
    """Run the Examples block of `name`'s docstring; returns doctest's report ("" when all pass)."""
    doc = inspect.getdoc(public(name))
    examples = section(doc, "Examples")
    assert examples, f"{name} has no Examples block"
    test = doctest.DocTestParser().get_doctest(inspect.cleandoc(examples), {}, name, None, 0)
    assert test.examples, f"the Examples block of {name} has no >>> lines"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []

    def too_long(signum, frame):
        raise ExampleTimeout(f"the examples of {name} ran longer than {EXAMPLE_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(EXAMPLE_SECONDS)
    try:
        runner.run(test, out=report.append, clear_globs=True)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return "".join(report) if runner.failures else ""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("examples")
    text = (REPO / "data" / "tinyshakespeare.txt").read_text(encoding="utf-8")
    (root / "corpus.txt").write_text(text[:CORPUS_CHARS], encoding="utf-8")
    (root / "saved_models").mkdir()
    (root / "saved_models" / "shakespeare").symlink_to(SHIPPED, target_is_directory=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("CHARKERAS_CACHE", str(root / "cache"))
        yield root


@pytest.fixture(scope="module")
def fit_example(workspace) -> str:
    return run_examples("fit")


def parameter_names(function) -> set[str]:
    """As a Google-style Args section names them: `**options` for a keywords parameter."""
    return {("**" if p.kind is p.VAR_KEYWORD else "") + p.name
            for p in inspect.signature(function).parameters.values() if p.name != "self"}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_public_functions_document_args_returns_and_examples(name):
    doc = inspect.getdoc(public(name))
    for title in ("Args", "Returns", "Examples"):
        assert section(doc, title), f"{name}'s docstring has no {title}: section"
    args = section(doc, "Args")
    documented = set(re.findall(r"^    (\*{0,2}\w+)(?: \([^)]*\))?:", args, re.MULTILINE))
    parameters = parameter_names(public(name))
    assert documented == parameters, f"{name}: Args documents {documented ^ parameters} wrongly"


def test_fit_documents_every_option_it_passes_on_to_the_driver():
    from charkeras.train import driver

    args = section(inspect.getdoc(charkeras.fit), "Args")
    listed = set(re.findall(r"^\s+- `(\w+)`", args, re.MULTILINE))
    # `base` is the loaded `init_from`, which the public fit passes itself.
    passed_on = parameter_names(driver.fit) - parameter_names(charkeras.fit) - {"base"}
    assert listed == passed_on, f"**options of charkeras.fit: {listed ^ passed_on} wrongly listed"


@pytest.mark.parametrize("name", CLASSES)
def test_public_classes_have_a_docstring_that_says_what_they_are(name):
    doc = inspect.getdoc(public(name))
    assert doc and len(doc.splitlines()[0]) > 20, f"{name} has no summary line"


@pytest.mark.slow
def test_the_fit_example_runs_and_trains_runs_small(fit_example, workspace):
    assert not fit_example, fit_example
    assert (workspace / "runs" / "small" / "checkpoints" / "best").is_dir()


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name in TRAIN
                                  else name for name in WITH_EXAMPLES if name != "fit"])
def test_the_examples_run(name, workspace, request):
    pytest.importorskip("ai_edge_litert", reason="the examples load the shipped model with LiteRT")
    if name in NEEDS_THE_RUN:
        assert not request.getfixturevalue("fit_example"), "the fit example failed: no runs/small"
    failures = run_examples(name)
    assert not failures, failures
