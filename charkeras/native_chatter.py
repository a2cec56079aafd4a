"""TensorFlow's, absl's, CUDA's and LiteRT's start-up chatter: what it looks like (`is_noise`), and
keeping it off a library user's stderr (`quiet_tensorflow_import`, `filtered_stderr`).

TF_CPP_MIN_LOG_LEVEL does not reach the lines TensorFlow's shared libraries log while they load,
before absl reads it ("All log messages before absl::InitializeLog() ...", port.cc's oneDNN note,
cudart_stub's "Could not find cuda drivers"), nor LiteRT's XNNPACK line: they go from C++ straight
to file descriptor 2. The CLI filters fd 2 for its whole command (charkeras_cli/quiet_stderr.py);
the library filters it only while `tensorflow` is first imported and while a LiteRT interpreter
allocates its tensors, and only at log level 3 (charkeras's default when the user chose none).
No TensorFlow here.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    # absl/glog lines: I0000 00:00:17.1 123 file.cc:52]
    rb"|[IWE]\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] "
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU"
    rb"|INFO: Initialized TensorFlow Lite runtime"
    rb"|(WARNING|INFO):(absl|tensorflow):"
    rb"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler "
    rb"flags)"
)


def is_noise(line: bytes) -> bool:
    return NOISE.match(line.lstrip(b"\r")) is not None


def _hiding_everything() -> bool:
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "3"


@contextlib.contextmanager
def filtered_stderr():
    """Point fd 2 at a temporary file for the block, then write what was not chatter to the real
    fd 2, in its order. At a log level below 3 (the user's choice, or `--verbose`) it does
    nothing."""
    if not _hiding_everything():
        yield
        return
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        real = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(real, 2)
            os.close(real)
            captured.seek(0)
            kept = b"".join(line for line in captured.read().splitlines(keepends=True)
                            if not is_noise(line))
            if kept:
                os.write(2, kept)


class _FilteredLoader(importlib.abc.Loader):
    """Runs the real loader of `tensorflow` under `filtered_stderr`."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with filtered_stderr():
            self.loader.exec_module(module)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` once, through the other finders, and wraps its loader."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: TensorFlow's own imports go the usual way
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _FilteredLoader(spec.loader)
        return spec


def quiet_tensorflow_import() -> None:
    """Filter the chatter of TensorFlow's first import in this process (`filtered_stderr`: when
    the log level at that time is 3). Does nothing once TensorFlow is imported."""
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietTensorFlowImport)
                                          for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietTensorFlowImport())

