"""Every incompatible or damaged checkpoint gives one line: a CheckpointError naming the file and the mismatch,
with advice for where the user is (Python: ``fit(resume=...)``; the command line: ``medimg train``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _helpers import blobs2d, spheres  # noqa: E402

from medimg_kernel.errors import CheckpointError  # noqa: E402
from medimg_kernel.models import build_model  # noqa: E402
from medimg_kernel.train import Trainer, load_checkpoint  # noqa: E402
from medimg_kernel.train.checkpoint import FORMAT_VERSION  # noqa: E402

MEDIMG = str(Path(sys.executable).with_name("medimg"))


def _trainer(ckpt: Path | None = None, out_channels: int = 3, channels=(4,), **kw) -> Trainer:
    torch.manual_seed(0)
    model = build_model("simplecnn", 2, 1, out_channels, channels=channels)
    return Trainer(model, max_epochs=1, batch_size=16, precision="fp32", checkpoint_dir=ckpt, progress=False, **kw)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A finished 1-epoch run: last.pt (full) and best.pt (weights) of a 3-class SimpleCNN."""
    d = tmp_path_factory.mktemp("run")
    x, y = blobs2d(32, 16)
    _trainer(d / "ck").fit((x, y), (x, y))
    torch.save(_trainer().model.state_dict(), d / "weights.pt")  # a plain state dict
    return d


def _fit_error(tr: Trainer, resume) -> CheckpointError:
    x, y = blobs2d(32, 16)
    with pytest.raises(CheckpointError) as err:
        tr.fit((x, y), resume=resume)
    msg = str(err.value)
    assert "\n" not in msg and "\n" not in err.value.cli_message()
    return err.value


def test_other_model_config_names_the_parameter_and_both_shapes(run_dir):
    err = _fit_error(_trainer(out_channels=5), str(run_dir / "ck" / "last.pt"))
    msg = str(err)
    assert "last.pt" in msg and "head.weight" in msg and "(3, " in msg and "(5, " in msg
    assert "fit(" in msg and "medimg train" not in msg
    assert "medimg train" in err.cli_message() or "config" in err.cli_message()
    assert "fit(" not in err.cli_message()


def test_other_model_class(run_dir):
    torch.manual_seed(0)
    other = Trainer(build_model("unet", 2, 1, 3, channels=(4, 8), strides=(2,)), max_epochs=1, batch_size=16,
                    precision="fp32", progress=False, task="segmentation")
    x, y = spheres(4, 16, dims=2)
    with pytest.raises(CheckpointError) as err:
        other.fit((x, y), resume=str(run_dir / "ck" / "last.pt"))
    assert "last.pt" in str(err.value) and "classification" in str(err.value)


def test_best_weights_where_a_full_checkpoint_is_expected(run_dir):
    err = _fit_error(_trainer(), str(run_dir / "ck" / "best.pt"))
    assert "best.pt" in str(err) and "weights only" in str(err) and "last.pt" in str(err)
    err = _fit_error(_trainer(), str(run_dir / "weights.pt"))
    assert "weights.pt" in str(err) and "weights only" in str(err) and "load_weights" in str(err)
    assert "model.weights" in err.cli_message()


def test_another_task(run_dir, tmp_path):
    state = load_checkpoint(run_dir / "ck" / "last.pt")
    state["config"]["task"] = "regression"
    torch.save(state, tmp_path / "reg.pt")
    err = _fit_error(_trainer(), str(tmp_path / "reg.pt"))
    assert "reg.pt" in str(err) and "regression" in str(err) and "classification" in str(err)


def test_newer_format(run_dir, tmp_path):
    state = load_checkpoint(run_dir / "ck" / "last.pt")
    state["medimg_checkpoint"] = FORMAT_VERSION + 1
    torch.save(state, tmp_path / "new.pt")
    err = _fit_error(_trainer(), str(tmp_path / "new.pt"))
    assert "new.pt" in str(err) and f"format {FORMAT_VERSION + 1}" in str(err) and "upgrade" in str(err)


def test_damaged_and_missing(run_dir, tmp_path):
    data = (run_dir / "ck" / "last.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 3])
    err = _fit_error(_trainer(), str(tmp_path / "cut.pt"))
    assert "cut.pt" in str(err) and "corrupt or truncated" in str(err)
    err = _fit_error(_trainer(), str(tmp_path / "nothing.pt"))
    assert "nothing.pt" in str(err) and "does not exist" in str(err)
    (tmp_path / "text.pt").write_text("not a checkpoint at all")
    assert "text.pt" in str(_fit_error(_trainer(), str(tmp_path / "text.pt")))


def test_load_best_on_a_model_of_another_shape(run_dir):
    tr = _trainer(run_dir / "ck", out_channels=4)
    with pytest.raises(CheckpointError, match=r"best\.pt.*head\.weight"):
        tr.load_best()


def test_cli_gets_cli_advice_on_one_line(run_dir, tmp_path):
    x, y = blobs2d(32, 16)
    np.savez(tmp_path / "d.npz", images=x, labels=y)
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"""
model: {{name: simplecnn, spatial_dims: 2, in_channels: 1, out_channels: 5, kwargs: {{channels: [4]}}}}
data: {{npz: {tmp_path / 'd.npz'}}}
trainer: {{max_epochs: 1, batch_size: 16, precision: fp32, checkpoint_dir: {run_dir / 'ck'}, progress: false}}
""")
    res = subprocess.run([MEDIMG, "train", str(cfg), "--resume"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("medimg: error: ") and "last.pt" in lines[-1] and "head.weight" in lines[-1]
    assert "fit(" not in lines[-1] and "Traceback" not in res.stderr
