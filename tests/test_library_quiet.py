"""The Python API keeps TensorFlow's C++ device chatter (cuInit, CPU features) off stderr, as the CLI
does, unless the user chose a TF_CPP_MIN_LOG_LEVEL."""

import os
import subprocess
import sys

from conftest import REPO

SCRIPT = f"""
import os
import charkeras
m = charkeras.load({str(REPO / "saved_models" / "shakespeare")!r}, runtime="savedmodel")
print(len(m.generate(20, seed=1)), os.environ["TF_CPP_MIN_LOG_LEVEL"])
"""


def _run(tmp_path, **env):
    base = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False,
                          timeout=300, cwd=tmp_path, env={**base, **env})


def test_the_library_hides_tensorflows_device_chatter(tmp_path):
    result = _run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["20", "3"]
    for chatter in ("cuInit", "cpu_feature_guard", "rebuild TensorFlow", "E0000"):
        assert chatter not in result.stderr, result.stderr


def test_a_level_the_user_chose_is_kept(tmp_path):
    result = _run(tmp_path, TF_CPP_MIN_LOG_LEVEL="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["20", "1"]
