"""The measured precision policy: real timings on this machine, the 5 % rule, the numerics guard, the cache."""

from __future__ import annotations

import logging

import pytest
import torch

import medimg_kernel.train.calibrate as calibrate_module
from medimg_kernel.device import cached_choices, device_policy
from medimg_kernel.models import build_model
from medimg_kernel.train import Trainer
from medimg_kernel.train.calibrate import MIN_GAIN, calibrate, candidates, choose_policy, decide
from medimg_kernel.train.contract import first_conv


@pytest.fixture(autouse=True)
def _own_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDIMG_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("MEDIMG_PRECISION", raising=False)
    monkeypatch.delenv("MEDIMG_CALIBRATE", raising=False)


def _batch(n=16, size=32):
    torch.manual_seed(0)
    return torch.randn(n, 1, size, size), torch.randint(0, 3, (n,))


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(16, 16, 3),
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 3))


def _blobs(n=64, size=16):
    """Images whose bright band's row encodes one of three classes."""
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (n,), generator=g)
    x = 0.3 * torch.randn(n, 1, size, size, generator=g)
    for i, c in enumerate(y.tolist()):
        x[i, 0, c * 5:(c + 1) * 5, 2:6] += 2.0
    return x.numpy(), y.numpy()


def _ce(out, y):
    return torch.nn.functional.cross_entropy(out, y)


def test_decide_needs_five_percent_over_fp32_and_skips_rejected():
    assert MIN_GAIN == 0.05
    rates = {"fp32+contiguous": 100.0, "fp32+channels_last": 104.0, "bf16+channels_last": 103.0}
    assert decide(rates) == "fp32+contiguous"  # fastest is only 4 % ahead
    rates["bf16+channels_last"] = 140.0
    assert decide(rates) == "bf16+channels_last"
    assert decide(rates, {"bf16+channels_last": "loss not finite"}) == "fp32+contiguous"


def test_candidates_follow_the_hardware_and_the_model():
    pol = device_policy(device="cpu")
    x, _ = _batch()
    cands = candidates(pol, x, _net())
    assert ("fp32", "contiguous") in cands and ("fp32", "channels_last") in cands
    assert (("bf16", "channels_last") in cands) == bool(pol.cpu["bf16"])
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32 * 32, 3))
    assert all(f == "contiguous" for _, f in candidates(pol, x, mlp))  # no convolution: layout does not matter


def test_measures_caches_and_leaves_the_model_alone():
    pol = device_policy(device="cpu")
    model, (x, y) = _net(), _batch()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cal = calibrate(model, x, y, _ce, pol, task="classification", force=True, budget_s=20.0)
    assert cal is not None and not cal.cached and cal.seconds > 0
    assert set(cal.samples_per_s) == {f"{p}+{f}" for p, f in candidates(pol, x, model)}
    assert all(v > 0 for v in cal.samples_per_s.values()) and cal.rounds >= 1
    assert cal.choice == decide(cal.samples_per_s, cal.rejected)
    assert "measured" in cal.why and cal.choice in cal.why
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert next(model.parameters()).is_contiguous()
    # cached: the same machine, model signature and shape class read the choice back without measuring
    entries = cached_choices(pol.signature())
    assert list(entries) == [cal.key] and entries[cal.key]["choice"] == cal.choice
    again = calibrate(model, x[:12], y[:12], _ce, pol, task="classification", batch_size=12)  # 12 and 16: one class
    assert again.cached and again.choice == cal.choice and again.samples_per_s == pytest.approx(
        {k: round(v, 2) for k, v in cal.samples_per_s.items()})
    other = calibrate(model, x, y, _ce, pol, task="classification", batch_size=64, force=False, total_steps=1)
    assert other is None  # another shape class, and a one-step fit is too short to pay for measuring


class _BadUnderAutocast(torch.nn.Module):
    """A model whose outputs blow up (or drift) whenever CPU autocast is on: the guard must refuse bf16."""

    def __init__(self, mode: str):
        super().__init__()  # no convolution: only the precisions are candidates, not the memory layouts
        torch.manual_seed(0)
        self.net, self.mode = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32 * 32, 3)), mode

    def forward(self, x):
        out = self.net(x)
        if torch.is_autocast_enabled("cpu"):
            return out * float("inf") if self.mode == "inf" else out + 5.0 * torch.arange(3.0)
        return out


@pytest.mark.parametrize("mode", ["inf", "drift"])
def test_numerics_guard_falls_back_and_logs(mode, caplog):
    pol = device_policy(device="cpu")
    if not pol.cpu["bf16"]:
        pytest.skip("no bf16 candidate on this CPU")
    x, y = _batch()
    with caplog.at_level(logging.WARNING, logger="medimg_kernel.train.calibrate"):
        cal = calibrate(_BadUnderAutocast(mode), x, y, _ce, pol, task="classification", force=True, budget_s=20.0)
    assert set(cal.rejected) == {"bf16+contiguous"}
    assert cal.precision == "fp32"
    assert ("not finite" if mode == "inf" else "differs from fp32") in cal.why
    assert "falling back" in caplog.text


def test_trainer_auto_measures_once_and_uses_the_choice(monkeypatch):
    monkeypatch.setenv("MEDIMG_CALIBRATE", "force")
    monkeypatch.setattr(calibrate_module, "BUDGET_S", 30.0)  # room on a loaded machine (the loop stops early)
    x, y = _blobs()
    model = build_model("simplecnn", 2, 1, 3, channels=(8, 16))
    tr = Trainer(model, max_epochs=1, batch_size=16, progress=False, device="cpu")
    tr.fit((x, y))
    assert tr.calibration is not None and tr.policy.precision == tr.calibration.precision
    assert tr.policy.memory_format == tr.calibration.memory_format and "measured now" in tr.policy.reason
    conv = first_conv(model)
    if tr.policy.memory_format == "channels_last":
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    else:
        assert conv.weight.is_contiguous()
    # off: the starting point, said so
    monkeypatch.setenv("MEDIMG_CALIBRATE", "off")
    tr2 = Trainer(build_model("simplecnn", 2, 1, 3, channels=(8, 16)), max_epochs=1, batch_size=16, progress=False,
                  device="cpu")
    tr2.fit((x, y))
    assert tr2.calibration is None and tr2.policy.precision == "fp32" and "not measured" in tr2.policy.reason
    # a forced precision is never measured
    monkeypatch.delenv("MEDIMG_CALIBRATE")
    tr3 = Trainer(build_model("simplecnn", 2, 1, 3, channels=(8, 16)), max_epochs=1, batch_size=16, progress=False,
                  device="cpu", precision="fp32")
    tr3.fit((x, y))
    assert tr3.calibration is None and "forced" in tr3.policy.reason


def test_choose_policy_under_ddp_reads_only_the_cache():
    pol = device_policy(device="cpu")
    x, y = _batch()
    new, cal = choose_policy(pol, _net(), x, y, _ce, task="classification", batch_size=16, total_steps=10**6,
                             distributed=True)
    assert cal is None and "not measured" in new.reason
