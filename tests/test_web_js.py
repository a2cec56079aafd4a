"""The JavaScript half of `charkeras web` under pytest: `node --test tests/js/` (the sampler port against
vectors from the numpy sampler, bit for bit, and static checks of the page and its LiteRT.js manifest).

Skipped when node is missing, unless CHARKERAS_REQUIRE_BROWSER=1 (CI) makes that a failure.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_node_tests_pass():
    node = shutil.which("node")
    if node is None:
        message = "node not found: install Node.js (20 or later) to run tests/js/"
        if os.environ.get("CHARKERAS_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run([node, "--test", "tests/js/"], cwd=REPO, capture_output=True, text=True, timeout=300,
                            check=False)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-4000:]
    counts = dict(line[2:].split(" ", 1) for line in result.stdout.splitlines() if line.startswith("# "))
    assert int(counts["pass"]) >= 10 and counts["fail"] == "0", report[-4000:]
