"""`info RUN` shows the validation loss of the step each checkpoint names, or says it was not validated."""

import shutil

from charkeras_cli.main import main
from click.testing import CliRunner

from charkeras.inspect.describe import describe


def _info(run):
    result = CliRunner().invoke(main, ["info", str(run)])
    assert result.exit_code == 0, result.output
    return result.output


def test_checkpoints_at_validated_steps_show_that_loss(tiny_viz_run):
    facts = describe(tiny_viz_run)
    latest = facts["latest_checkpoint"]
    assert latest["validated"] and latest["val_loss_at_step"] is not None
    assert "not validated" not in _info(tiny_viz_run)


def test_a_checkpoint_between_validations_is_not_validated(tiny_viz_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_viz_run, run)
    step = describe(run)["latest_checkpoint"]["step"]
    for name in ("validations.csv", "log.csv"):
        (run / name).unlink(missing_ok=True)
    (run / "validations.csv").write_text(f"step,epoch,val_loss,val_bpc,time\n{step - 3},1,2.5,3.6,0\n")
    latest = describe(run)["latest_checkpoint"]
    assert not latest["validated"] and latest["last_validation"] == {"step": step - 3, "val_loss": 2.5}
    out = _info(run)
    assert f"step {step}, not validated at this step; last validated at step {step - 3}: 2.5000" in out
