"""Transfer learning: local/registered weights, head replacement, freezing, discriminative LRs, channels."""

from __future__ import annotations

import hashlib

import pytest
import torch

from medimg_kernel.errors import CheckpointError, ChecksumError, ConfigError
from medimg_kernel.models import (
    adapt_input_channels,
    build_model,
    discriminative_param_groups,
    find_head,
    freeze,
    load_weights,
    model_stages,
    register_checkpoint,
    replace_head,
    unfreeze,
)


def test_load_weights_from_file_skips_mismatched_head(tmp_path) -> None:
    torch.manual_seed(0)
    src = build_model("resnet18", 2, 1, 10)
    path = tmp_path / "w.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in src.state_dict().items()}}, path)  # DDP-style keys
    dst = build_model("resnet18", 2, 1, 3)
    report = load_weights(dst, path)
    assert any(m.startswith("fc.weight") for m in report.shape_mismatch)
    assert torch.equal(dst.conv1.weight, src.conv1.weight)
    assert "fc.weight" not in report.loaded and "conv1.weight" in report.loaded  # head left as initialised
    with pytest.raises(CheckpointError, match="strict"):
        load_weights(build_model("resnet18", 2, 1, 3), path, strict=True)


def test_registered_checkpoint_and_checksum(tmp_path) -> None:
    src = build_model("simplecnn", 2, 1, 2)
    path = tmp_path / "cnn.pt"
    torch.save(src.state_dict(), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    register_checkpoint("test-cnn", path, sha256=digest)
    dst = build_model("simplecnn", 2, 1, 2)
    rep = load_weights(dst, "test-cnn")
    assert not rep.missing and not rep.shape_mismatch
    assert torch.equal(dst.head.weight, src.head.weight)
    register_checkpoint("test-cnn-bad", path, sha256="0" * 64)
    with pytest.raises(ChecksumError, match="differs"):
        load_weights(dst, "test-cnn-bad")
    with pytest.raises(CheckpointError, match="test-cnn"):
        load_weights(dst, "no-such-weights")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not read"):
        load_weights(dst, tmp_path / "junk.pt")


def test_replace_head_densenet() -> None:
    model = build_model("densenet121", 2, 1, 6)
    assert find_head(model) == "class_layers.out"
    replace_head(model, 2)
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 2)
    assert model.medimg_spec["out_channels"] == 2
    with pytest.raises(ConfigError, match="no nn.Linear"):
        find_head(build_model("tinyunet", 2, 1, 2))


def test_freeze_unfreeze_by_stage() -> None:
    model = build_model("resnet18", 2, 1, 3)
    names = [n for n, _ in model_stages(model)]
    assert names[0] == "conv1" and names[-1] == "fc"
    frozen = freeze(model)  # everything but the head
    assert frozen == names[:-1]
    assert all(not p.requires_grad for n, p in model.named_parameters() if not n.startswith("fc"))
    assert all(p.requires_grad for p in model.fc.parameters())
    assert unfreeze(model, 2) == names[-2:]
    assert all(p.requires_grad for p in model.layer4.parameters())
    assert not model.layer3[0].conv1.weight.requires_grad
    freeze(model, "layer2")
    assert not any(p.requires_grad for p in model.layer2.parameters())
    with pytest.raises(ConfigError, match="layer1"):
        freeze(model, "nope")
    unfreeze(model)
    assert all(p.requires_grad for p in model.parameters())


def test_densenet_stages_expand_features() -> None:
    names = [n for n, _ in model_stages(build_model("densenet121", 2, 1, 2))]
    assert "features.denseblock1" in names and names[-1] == "class_layers.out"


def test_discriminative_param_groups() -> None:
    model = build_model("resnet18", 2, 1, 3)
    freeze(model, 1)  # conv1 frozen -> not in any group
    groups = discriminative_param_groups(model, 1e-3, decay=0.5)
    assert groups[-1]["name"] == "fc" and groups[-1]["lr"] == pytest.approx(1e-3)
    lrs = [g["lr"] for g in groups]
    assert lrs == sorted(lrs)
    ids = {id(p) for g in groups for p in g["params"]}
    assert id(model.conv1.weight) not in ids
    assert ids == {id(p) for p in model.parameters() if p.requires_grad}
    opt = torch.optim.AdamW(groups)
    assert len(opt.param_groups) == len(groups)


def test_adapt_input_channels_preserves_response() -> None:
    torch.manual_seed(0)
    model = build_model("resnet18", 2, 1, 3).eval()
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        ref = model(x)
        adapt_input_channels(model, 4)
        out = model(x.repeat(1, 4, 1, 1))
    assert model.conv1.in_channels == 4 and model.medimg_spec["in_channels"] == 4
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    m2 = build_model("simplecnn", 3, 1, 2)
    adapt_input_channels(m2, 2, mode="zero")
    assert m2(torch.randn(1, 2, 8, 8, 8)).shape == (1, 2)
    with pytest.raises(ConfigError, match="repeat"):
        adapt_input_channels(m2, 3, mode="bad")
