"""The documentation site builds with warnings as errors; its generated references match the code.

`mkdocs build --strict` fails on a broken link, a missing page or image, an unresolved API reference
or a snippet that names a missing file, so the pages cannot drift from the tree. The CLI reference
is generated from the click commands; the tests check that every option `charkeras fit --help`
prints is in it, and that the export contract page names every key of the card schema.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "site"
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)]
    build = subprocess.run(command,
                           cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
                           env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stdout}\n{build.stderr}"
    return out


def options_in_help(command: str) -> list[str]:
    """Every `--option` (and `--no-option`) that `charkeras COMMAND --help` lists as an option."""
    help_text = subprocess.run([sys.executable, "-m", "charkeras_cli.main", command, "--help"],
                               capture_output=True, text=True, check=True, timeout=120).stdout
    options = []
    for line in help_text.splitlines():
        declared = re.match(r"\s{2}(-\w, )?(--[\w-]+)( / (--[\w-]+))?", line)
        if declared:
            options += [name for name in (declared.group(2), declared.group(4)) if name]
    return options


def test_the_site_builds_strictly_with_every_section(site):
    for page in ("index.html", "getting-started/index.html", "guides/training/index.html",
                 "reference/cli/index.html", "reference/python-api/index.html",
                 "reference/export-contract/index.html", "performance/index.html",
                 "guarantees/index.html",
                 "ARCHITECTURE/index.html", "changelog/index.html"):
        assert (site / page).is_file(), page


def test_every_fit_option_is_in_the_cli_reference(site):
    options = options_in_help("fit")
    # The parser still reads --help (a silent empty list would pass the check below).
    assert "--time-budget" in options and "--no-thread-settings" in options
    html = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    missing = [option for option in options if option not in html]
    assert not missing, f"`charkeras fit --help` options missing from the CLI reference: {missing}"


def test_every_command_is_in_the_cli_reference(site):
    from charkeras_cli.main import main

    html = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    missing = [name for name in main.commands if f"charkeras {name}" not in html]
    assert not missing, f"commands missing from the CLI reference: {missing}"


def test_the_api_reference_renders_the_public_functions(site):
    html = (site / "reference" / "python-api" / "index.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="(charkeras\.[\w.]+)"', html))
    for name in ("fit", "export", "load", "CharModel", "CharModel.generate", "CharModel.score",
                 "CharModel.step", "CharConfig", "ModelConfig", "DataConfig", "TrainConfig"):
        assert any(a.endswith(f".{name}") for a in anchors), f"{name} missing from the API page"


def test_the_api_reference_documents_every_fit_option_of_the_config(site):
    """Each config field that is a `fit` option is on the page, documented by its option's help
    (taken from the field by tools/mkdocs_config_fields.py, not copied)."""
    from charkeras.config import SECTIONS, option_fields

    html = (site / "reference" / "python-api" / "index.html").read_text(encoding="utf-8")
    for section, item, option in option_fields():
        name = f"{SECTIONS[section].__name__}.{item.name}"
        assert f'id="charkeras.config.{name}"' in html, f"{name} is missing from the API page"
    assert "Character embedding size. Command line: <code>--embedding-dim</code>" in html


def test_the_run_directory_page_names_every_file_of_a_run():
    from charkeras.train.run import names

    page = (REPO / "docs" / "reference" / "run-directory.md").read_text(encoding="utf-8")
    files = [names.MARKER_FILE, names.LOCK_FILE, *names.RUN_ENTRIES, names.BEST, names.META_FILE,
             names.VARIABLES_FILE, *names.TENSORBOARD_PARTS, names.checkpoint_name(500)]
    missing = [name for name in files if name not in page]
    assert not missing, f"docs/reference/run-directory.md does not name {missing}"


def test_the_export_contract_names_every_card_key():
    from charkeras.artifact.schema import CARD_SCHEMA, TFLITE_FILE_SCHEMA, TRAINING_SCHEMA

    page = (REPO / "docs" / "reference" / "export-contract.md").read_text(encoding="utf-8")
    keys = [*CARD_SCHEMA, *TRAINING_SCHEMA, *TFLITE_FILE_SCHEMA]
    missing = [key for key in keys if f"`{key}`" not in page]
    assert not missing, f"card.json keys missing from docs/reference/export-contract.md: {missing}"


def test_the_docs_speak_of_the_product_without_tracking_numbers():
    pages = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    found = [f"{page.relative_to(REPO)}: {hit}" for page in pages
             for hit in re.findall(r"\b(?:issue|ticket|PR) #?\d+", page.read_text(encoding="utf-8"),
                                   re.IGNORECASE)]
    assert not found, f"internal tracking numbers in the docs: {found}"


def test_the_readme_stays_a_front_door():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    # The two set-up commands, exactly: the main job and the tests.
    assert ('python3 -m venv .venv && .venv/bin/pip install -e ".[lite]" --config-settings '
            "editable_mode=strict && .venv/bin/charkeras generate saved_models/shakespeare "
            "--n 2000") in readme
    assert "bash .ci/run" in readme
    # The test command README names is the one .ci/run runs after its set-up.
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest -q -ra" in readme and '-m pytest -q -ra\n' in ci
    for target in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (REPO / target).exists(), f"README links to a missing {target}"
