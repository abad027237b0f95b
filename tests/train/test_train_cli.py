"""``medimg train CONFIG.yaml`` and ``medimg bench train --json`` end to end (tiny sizes)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _helpers import blobs2d  # noqa: E402

from medimg_kernel.cli import main  # noqa: E402

BENCH_KEYS = {"ceiling_samples_per_s", "trainer_samples_per_s", "naive_samples_per_s", "trainer_vs_ceiling",
              "trainer_vs_naive", "model", "batch_size", "precision", "device", "device_name", "image_size"}


def test_train_cli_from_yaml_and_resume(tmp_path, capsys) -> None:
    x, y = blobs2d(48, 16)
    np.savez(tmp_path / "d.npz", images=x, labels=y)
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"""
model: {{name: simplecnn, spatial_dims: 2, in_channels: 1, out_channels: 3, kwargs: {{channels: [4, 8]}}}}
data: {{npz: {tmp_path / 'd.npz'}, val_fraction: 0.25}}
trainer: {{max_epochs: 1, batch_size: 12, precision: fp32, checkpoint_dir: {tmp_path / 'ck'}}}
output: {{weights: {tmp_path / 'out' / 'w.pt'}, history: {tmp_path / 'out' / 'h.csv'}}}
""")
    assert main(["train", str(cfg), "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["steps"] == 3 and res["world_size"] == 1 and "val_accuracy" in res["last"]
    assert set(torch.load(tmp_path / "out" / "w.pt")) >= {"head.weight"}
    assert main(["train", str(cfg), "--json", "--resume", "--set", "trainer.max_epochs=2"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["steps"] == 6
    assert list(pd.read_csv(tmp_path / "out" / "h.csv")["epoch"]) == [1, 2]


def test_train_cli_config_errors(tmp_path, capsys) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("model: {name: simplecnn}\n")
    assert main(["train", str(cfg)]) == 2
    assert "missing section 'data'" in capsys.readouterr().err
    cfg.write_text("model: {name: simplecnn}\ndata: {csv: x}\n")
    assert main(["train", str(cfg)]) == 2
    assert "npz" in capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ["--model", "simplecnn", "--size", "16", "--batch", "8", "--n", "16"],
    ["--dims", "3", "--model", "tinyunet", "--size", "16", "--batch", "2", "--n", "4"],
])
def test_bench_train_json(args, capsys) -> None:
    assert main(["bench", "train", "--json", "--epochs", "1", "--steps", "1", "--workers", "0", *args]) == 0
    res = json.loads(capsys.readouterr().out)
    assert BENCH_KEYS <= set(res)
    # the run measured what was asked, and the figures are consistent with each other (no timing limits here)
    dims = 3 if "--dims" in args else 2
    assert res["batch_size"] == int(args[args.index("--batch") + 1]) and res["n_samples"] == int(args[-1])
    assert res["image_size"] == [16] * dims and res["spatial_dims"] == dims and res["trainer_epochs"] == 1
    assert res["ceiling_samples_per_s"] == max(res["ceiling_candidates"].values())
    assert res["trainer_samples_per_s"] == pytest.approx(res["n_samples"] / res["trainer_seconds"], rel=1e-6)
    assert res["trainer_vs_ceiling"] == pytest.approx(res["trainer_samples_per_s"] / res["ceiling_samples_per_s"])
    assert res["trainer_vs_naive"] == pytest.approx(res["trainer_samples_per_s"] / res["naive_samples_per_s"])
    assert res["trainer_steady_vs_naive"] == pytest.approx(res["trainer_steady_samples_per_s"]
                                                           / res["naive_samples_per_s"])
    assert res["trainer_steady_vs_ceiling"] == pytest.approx(res["trainer_steady_samples_per_s"]
                                                             / res["ceiling_samples_per_s"])
    # the Trainer trained with the setting the ceiling credits to the policy
    assert res["trainer_precision"] == f"{res['precision']}+{res['memory_format']}"
    assert res["case"] == ("3d-segmentation" if "--dims" in args else "2d-classification")
