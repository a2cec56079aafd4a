"""The training report: built from the run's logs and samples, refreshed by training, rebuilt by the CLI."""

import json
import re

import pytest
from click.testing import CliRunner
from stub_models import make_tiny_run

from charkeras.config import CharConfig
from charkeras.errors import RunDirError
from charkeras.text.vocabulary import Vocabulary
from charkeras.train.run.directory import RunDir
from charkeras.train.run.report import read_epochs, read_samples, update_report, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def fake_run(tmp_path):
    """A run directory as training leaves it after a crash that appended epoch 2 and step 20 twice
    (22 batches per epoch: (901 - 1) // 4 = 225 chars per stream, // 10)."""
    run = tmp_path / "run"
    config = CharConfig().replace(data={"batch_size": 4, "seq_len": 10}, train={"epochs": 5})
    RunDir(run).write_run_files(config, Vocabulary.from_text("abc"), {
        "source": "corpus.txt", "sha256": "0" * 64, "chars": 1000, "train_chars": 901, "val_chars": 99})
    (run / "log.csv").write_text(
        "epoch,step,bpc,loss,lr,val_bpc,val_loss\n"
        "1,22,4.0,2.8,0.002,3.5,2.4\n"
        "2,44,3.0,2.1,0.0015,2.9,2.0\n"
        "epoch,step,bpc,loss,lr,val_bpc,val_loss\n"  # a repeated header: skipped
        "2,44,2.9,2.0,0.0015,2.8,1.95\n"
        "3,66,2.5,1.7,0.001,2.6,1.8\n")
    (run / "steps.csv").write_text("step,epoch,loss,lr\n" + "".join(
        f"{s},{(s - 1) // 22 + 1},{3 - s / 50},0.001\n" for s in range(10, 80, 10)))
    (run / "validations.csv").write_text("step,epoch,val_loss,val_bpc,time\n"
                                         "22,1,2.4,3.5,0\n44,2,1.95,2.8,0\n66,3,1.8,2.6,0\n")
    samples = [{"step": 20, "val_loss": None, "text": "old jumble"},
               {"step": 10, "val_loss": None, "text": "xq zzk"},
               {"step": 20, "val_loss": 2.4, "text": "the <b>king</b> & co"},
               {"step": 45, "val_loss": 2.0, "text": "KING:\nNow, by my troth"}]
    (run / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples) + '{"step": 60, "te')
    return run


LATEST = {"epoch": 4, "step": 88, "loss": 1.5, "val_loss": 1.7, "lr": 5e-4, "bpc": 2.1}


def test_epochs_are_deduplicated_and_the_pending_row_is_added(fake_run):
    rows = read_epochs(fake_run, latest_epoch=LATEST)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert rows[1]["loss"] == 2.0  # the last row written wins
    assert rows[3] == {"epoch": 4, "step": 88, "loss": 1.5, "val_loss": 1.7, "lr": 5e-4}


def test_samples_are_in_step_order_last_one_wins_torn_line_skipped(fake_run):
    samples = read_samples(fake_run)
    assert [s["step"] for s in samples] == [10, 20, 45]
    assert samples[1]["text"] == "the <b>king</b> & co"


def test_report_page_and_plot(fake_run):
    (fake_run / "validations.csv").open("a").write("88,4,1.7,2.45,0\n")
    path = write_report(fake_run, latest_epoch=LATEST)
    page = path.read_text(encoding="utf-8")
    png = (fake_run / "loss.png").read_bytes()
    assert png.startswith(PNG_SIGNATURE)
    from PIL import Image

    with Image.open(fake_run / "loss.png") as image:
        assert image.size[0] > 600 and len(image.convert("RGB").getcolors(1 << 20)) > 20  # a real drawing
    assert "data:image/png;base64," in page
    epoch_rows = re.findall(r"<tr><td>(\d+)</td><td>(\d+)</td><td>([\d.]+)</td>", page)
    assert epoch_rows == [("1", "22", "2.8000"), ("2", "44", "2.0000"), ("3", "66", "1.7000"),
                          ("4", "88", "1.5000")]
    assert "1.7000 nats/char = 2.4526 bpc (step 88, of 4 validations)" in page  # best validation
    texts = re.findall(r"<pre>(.*?)</pre>", page, re.DOTALL)
    assert texts == ["xq zzk", "the &lt;b&gt;king&lt;/b&gt; &amp; co", "KING:\nNow, by my troth"]
    assert "step 88 of 110 (epoch 4 of 5)" in page
    assert "http://" not in page and "https://" not in page


def test_report_before_the_first_epoch_has_no_plot(tmp_path):
    run = tmp_path / "run"
    RunDir(run).write_run_files(CharConfig(), Vocabulary.from_text("ab"), {"source": "x", "sha256": "0"})
    page = write_report(run).read_text(encoding="utf-8")
    assert "no epoch finished yet" in page and "No plot yet" in page
    assert not (run / "loss.png").exists()


def test_not_a_run_is_a_user_error_but_only_a_warning_during_training(tmp_path, capsys):
    with pytest.raises(RunDirError, match="not a charkeras run"):
        write_report(tmp_path)
    update_report(tmp_path)
    assert capsys.readouterr().err.startswith(f"warning: {tmp_path / 'report.html'} not updated")

    from charkeras_cli.main import main

    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "not a charkeras run" in result.output


def test_report_command_rebuilds_the_files(fake_run):
    from charkeras_cli.main import main

    result = CliRunner().invoke(main, ["report", str(fake_run)])
    assert result.exit_code == 0, result.output
    assert (fake_run / "report.html").is_file() and (fake_run / "loss.png").is_file()


@pytest.mark.slow
def test_training_updates_the_report_at_every_epoch_end(tmp_path):
    run = make_tiny_run(tmp_path / "run", epochs=2)
    page = (run / "report.html").read_text(encoding="utf-8")
    log_rows = read_epochs(run)
    assert [r["epoch"] for r in log_rows] == [1, 2]
    assert "(epoch 2 of 2)" in page and "epoch 2 (step" in page  # the last epoch reached the page
    assert f"{log_rows[1]['val_loss']:.4f}" in page
    assert page.count('<li class="sample">') == len(read_samples(run)) > 0
    assert (run / "loss.png").read_bytes().startswith(PNG_SIGNATURE)
