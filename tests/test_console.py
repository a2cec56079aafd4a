"""fit's console: header, plain progress lines without \\r or escape codes, summary with the next commands;
TensorFlow's C++ chatter filtered from the real CLI's stderr."""

import subprocess
import sys

import pytest
from charkeras_cli.main import main
from charkeras_cli.quiet_stderr import is_noise
from click.testing import CliRunner


@pytest.mark.parametrize("line", [
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    b"I0000 00:00:1795376139.768652   19217 cudart_stub.cc:31] Could not find cuda drivers on your machine",
    b"E0000 00:00:1795376140.799131   19217 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error",
    b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
    b"WARNING:absl:Compiled the loaded model, but the compiled metrics have yet to be built.",
])
def test_tensorflow_chatter_is_noise(line):
    assert is_noise(line)


@pytest.mark.parametrize("line", [b"error: --units must be >= 1 (got 0)", b"Traceback (most recent call last):",
                                  b"warning: characters not in the model's vocabulary", b"(seed 5: pass --seed 5)"])
def test_our_messages_are_not_noise(line):
    assert not is_noise(line)


def test_real_cli_stderr_has_no_tensorflow_chatter(tmp_path):
    (tmp_path / "c.txt").write_text("hello world\n" * 300)
    # an error raised after TensorFlow was imported and its devices listed
    out = subprocess.run([sys.executable, "-c", "from charkeras_cli.main import main; main()", "fit",
                          str(tmp_path / "c.txt"), "--out", str(tmp_path / "r"), "--batch-size", "500",
                          "--seq-len", "100"], capture_output=True, text=True, check=False)
    assert out.returncode == 2 and out.stderr.startswith("error: ") and len(out.stderr.splitlines()) == 1, out.stderr


@pytest.mark.slow
def test_plain_log_has_header_progress_and_summary(shakespeare_slice, tmp_path):
    result = CliRunner().invoke(main, [
        "fit", str(shakespeare_slice), "--out", str(tmp_path / "r"), "--units", "8", "--layers", "1",
        "--embedding-dim", "4", "--epochs", "2", "--sample-every", "0", "--log", "plain"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "\r" not in out and "\x1b" not in out and "━" not in out
    for fragment in ("corpus", "vocabulary", "parameters", "steps/epoch", "device", "CPU"):
        assert fragment in out.split("step ")[0] or fragment in out, fragment
    assert "done: step" in out and "best val loss" in out and "next:" in out
    assert "epoch 1: val loss" not in out  # a plain log folds validations into its periodic line
    assert f"charkeras generate {tmp_path / 'r'}" in out and "--baseline ngram" in out


def _console_at_rate(time_left=None, max_steps=1000):
    import io
    from types import SimpleNamespace

    from charkeras.config import CharConfig
    from charkeras.data.streams import StreamLayout
    from charkeras.train.callbacks.console import ConsoleProgress

    config = CharConfig().replace(train={"max_steps": max_steps, "time_budget": 600.0 if time_left else None})
    progress = SimpleNamespace(config=config, layout=StreamLayout(64, 100, 100_000, 1000), last_val_loss=None,
                               best_val_loss=None)
    console = ConsoleProgress(progress, source="c.txt", corpus_chars=1, train_chars=1, val_chars=1, val_batches=1,
                              strategy=None, mode="plain", out=io.StringIO(), time_left=time_left)
    console._began, console._marks = 0.0, [(0.0, 0), (10.0, 10)]  # 1 step/s
    return console


def test_eta_follows_the_step_rate():
    assert _console_at_rate().status_line(10, 10.0).endswith("ETA 16m30s")  # 990 steps left at 1 step/s


def test_eta_never_passes_the_time_budget_deadline():
    # Steps slower than the budget's plan (a busy machine): the budget still stops the run in 5 minutes.
    assert _console_at_rate(time_left=lambda: 300.0).status_line(10, 10.0).endswith("ETA 5m00s")


def test_the_progress_line_shows_the_latest_validation_and_its_step():
    console = _console_at_rate()
    console.progress.last_val_loss, console.progress.last_val_step = 1.2345, 5
    assert "val 1.2345 (step 5)" in console.status_line(10, 10.0)
    console.progress.last_val_step = 10  # measured at this very step: no need to say when
    assert "val 1.2345 |" in console.status_line(10, 10.0)
