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
                           cwd=REPO, capture_output=True, text=True, timeout=300,
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


def test_the_export_contract_names_every_card_key():
    from charkeras.artifact.schema import CARD_SCHEMA, TFLITE_FILE_SCHEMA, TRAINING_SCHEMA

    page = (REPO / "docs" / "reference" / "export-contract.md").read_text(encoding="utf-8")
    keys = [*CARD_SCHEMA, *TRAINING_SCHEMA, *TFLITE_FILE_SCHEMA]
    missing = [key for key in keys if f"`{key}`" not in page]
    assert not missing, f"card.json keys missing from docs/reference/export-contract.md: {missing}"


def test_the_readme_stays_a_front_door():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    # The two set-up commands, exactly: the main job and the tests.
    assert ('python3 -m venv .venv && .venv/bin/pip install -e ".[lite]" && '
            ".venv/bin/charkeras generate saved_models/shakespeare --n 2000") in readme
    assert "bash .ci/run" in readme
    for target in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (REPO / target).exists(), f"README links to a missing {target}"
