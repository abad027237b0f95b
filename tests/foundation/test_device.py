import pytest
import torch

from medimg_kernel.device import cpu_features, device_policy
from medimg_kernel.errors import ConfigError, NoGPUError


def test_auto_policy_matches_hardware():
    pol = device_policy()
    feats = cpu_features()
    if torch.cuda.is_available():
        assert pol.device.startswith("cuda")
    else:
        assert pol.device == "cpu"
        assert pol.precision == ("bf16" if feats["amx_bf16"] else "fp32")
        if feats["amx_bf16"] or feats["avx512"]:
            assert pol.memory_format == "channels_last"
        assert pol.num_threads == feats["cores"]
    text = pol.describe()
    assert pol.device in text and pol.precision in text and "why:" in text


def test_env_overrides(monkeypatch):
    monkeypatch.setenv("MEDIMG_DEVICE", "cpu")
    monkeypatch.setenv("MEDIMG_PRECISION", "fp32")
    pol = device_policy()
    assert (pol.device, pol.precision, pol.autocast_dtype) == ("cpu", "fp32", None)
    assert "forced" in pol.reason
    # explicit arguments win over the environment
    assert device_policy(precision="bf16").autocast_dtype == torch.bfloat16


@pytest.mark.skipif(torch.cuda.is_available(), reason="machine has CUDA")
def test_cuda_requested_without_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("MEDIMG_DEVICE", "cuda")
    with pytest.raises(NoGPUError, match="no usable CUDA GPU.*MEDIMG_DEVICE"):
        device_policy()


def test_bad_names_list_valid_choices():
    with pytest.raises(ConfigError, match="cpu, cuda"):
        device_policy(device="tpu")
    with pytest.raises(ConfigError, match="fp32, bf16, fp16"):
        device_policy(precision="int4")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="fp16.*not supported.*CPU"):
            device_policy(device="cpu", precision="fp16")


def test_autocast_and_memory_format_apply():
    pol = device_policy(device="cpu", precision="bf16")
    conv = torch.nn.Conv2d(1, 4, 3)
    x = torch.randn(2, 1, 8, 8).contiguous(memory_format=pol.memory_format_for(4))
    with pol.autocast():
        y = conv(x)
    assert y.dtype == torch.bfloat16
    assert not pol.needs_grad_scaler
    assert pol.memory_format_for(5) in (torch.channels_last_3d, torch.contiguous_format)


def test_thread_count_override(monkeypatch):
    monkeypatch.setenv("MEDIMG_NUM_THREADS", "1")
    pol = device_policy(device="cpu")
    assert pol.num_threads == 1 and "MEDIMG_NUM_THREADS" in pol.reason
    monkeypatch.setenv("MEDIMG_NUM_THREADS", "many")
    with pytest.raises(ConfigError, match="MEDIMG_NUM_THREADS='many'.*whole number"):
        device_policy(device="cpu")
