"""The Python API keeps TensorFlow's C++ device chatter (cuInit, CPU features) off stderr, as the CLI
does, unless the user chose a TF_CPP_MIN_LOG_LEVEL."""

import os
import subprocess
import sys

from conftest import REPO

SCRIPT = f"""
import os, sys
import charkeras
print("before", file=sys.stderr, flush=True)
m = charkeras.load({str(REPO / "saved_models" / "shakespeare")!r}, runtime="savedmodel")
charkeras.load({str(REPO / "saved_models" / "shakespeare")!r}, runtime="tflite").generate(5, seed=1)
print("after", file=sys.stderr, flush=True)
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
    # Lines TensorFlow logs while it loads, before absl reads TF_CPP_MIN_LOG_LEVEL, too
    for chatter in ("cuInit", "cpu_feature_guard", "rebuild TensorFlow", "E0000", "I0000",
                    "absl::InitializeLog", "port.cc", "cudart_stub", "XNNPACK"):
        assert chatter not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert lines.index("before") < lines.index("after")  # other stderr output is kept, in order


def test_a_level_the_user_chose_is_kept(tmp_path):
    result = _run(tmp_path, TF_CPP_MIN_LOG_LEVEL="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["20", "1"]
