"""The device policy: device choice, overrides, process knobs and the cache of measured choices.

Hardware expectations come from an independent reading of ``/proc/cpuinfo`` and ``os.sched_getaffinity``
here, never from the package's own ``cpu_features()``.
"""

import json
import os
import re
from pathlib import Path

import pytest
import torch

from medimg_kernel.device import (
    cached_choices,
    calibration_file,
    clear_choices,
    cpu_features,
    device_policy,
    machine_signature,
    store_choice,
)
from medimg_kernel.errors import ConfigError, NoGPUError

CPUINFO = Path("/proc/cpuinfo")


def _cpuinfo_flags() -> set[str]:
    text = CPUINFO.read_text()
    line = re.search(r"^flags\s*:\s*(.*)$", text, re.M)
    return set(line.group(1).split()) if line else set()


@pytest.mark.skipif(not CPUINFO.is_file(), reason="no /proc/cpuinfo (not Linux)")
def test_cpu_features_agree_with_proc_cpuinfo():
    flags = _cpuinfo_flags()
    feats = cpu_features()
    assert feats["amx_bf16"] == ("amx_bf16" in flags)
    assert feats["avx512_bf16"] == ("avx512_bf16" in flags)
    assert feats["avx512"] == ("avx512f" in flags)
    assert feats["bf16"] == bool({"amx_bf16", "avx512_bf16"} & flags)
    assert feats["cores"] == len(os.sched_getaffinity(0))
    names = re.findall(r"^model name\s*:\s*(.*)$", CPUINFO.read_text(), re.M)
    if names:
        assert feats["model"] == names[0].strip()


@pytest.mark.skipif(torch.cuda.is_available(), reason="machine has CUDA")
def test_auto_policy_on_cpu_starts_in_fp32_and_asks_to_measure(monkeypatch):
    monkeypatch.delenv("MEDIMG_PRECISION", raising=False)
    monkeypatch.delenv("MEDIMG_DEVICE", raising=False)
    monkeypatch.delenv("MEDIMG_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    pol = device_policy()
    assert pol.device == "cpu"
    # no fixed feature-flag rule: fp32 + contiguous until a fit measures the candidates on the model
    assert (pol.precision, pol.memory_format, pol.auto_precision) == ("fp32", "contiguous", True)
    assert pol.num_threads == len(os.sched_getaffinity(0))
    text = pol.describe()
    assert "why:" in text and "measures" in text
    if CPUINFO.is_file() and not ({"amx_bf16", "avx512_bf16"} & _cpuinfo_flags()):
        assert "bf16 is not a candidate" in text


def test_env_overrides(monkeypatch):
    monkeypatch.setenv("MEDIMG_DEVICE", "cpu")
    monkeypatch.setenv("MEDIMG_PRECISION", "fp32")
    pol = device_policy()
    assert (pol.device, pol.precision, pol.autocast_dtype, pol.auto_precision) == ("cpu", "fp32", None, False)
    assert "forced" in pol.reason
    # explicit arguments win over the environment
    assert device_policy(precision="bf16").autocast_dtype == torch.bfloat16


@pytest.mark.skipif(torch.cuda.is_available(), reason="machine has CUDA")
def test_cuda_requested_without_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("MEDIMG_DEVICE", "cuda")
    with pytest.raises(NoGPUError, match="no usable CUDA GPU.*MEDIMG_DEVICE"):
        device_policy()
    # a torchrun local rank does not invent a GPU either
    monkeypatch.setenv("MEDIMG_DEVICE", "auto")
    assert device_policy(local_rank=1).device == "cpu"


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
    cl = pol.with_setting("bf16", "channels_last", "measured")
    assert cl.memory_format_for(4) is torch.channels_last and cl.memory_format_for(5) is torch.channels_last_3d
    assert cl.reason == "measured" and not cl.auto_precision


def test_thread_count_override_and_sharing(monkeypatch):
    monkeypatch.setenv("MEDIMG_NUM_THREADS", "1")
    pol = device_policy(device="cpu")
    assert pol.num_threads == 1 and "MEDIMG_NUM_THREADS" in pol.reason
    monkeypatch.setenv("MEDIMG_NUM_THREADS", "many")
    with pytest.raises(ConfigError, match="MEDIMG_NUM_THREADS='many'.*whole number"):
        device_policy(device="cpu")
    monkeypatch.setenv("MEDIMG_NUM_THREADS", "4")
    before = torch.get_num_threads()
    try:
        device_policy(device="cpu").apply_threads(processes=2)  # two processes on one host share 4 threads
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_omp_num_threads_is_a_ceiling(monkeypatch):
    """A grader or runner that starts a kernel with OMP_NUM_THREADS=1 beside others gets one torch thread
    (torch.set_num_threads(cores) there oversubscribed the cores and made a 12 s notebook time out)."""
    monkeypatch.delenv("MEDIMG_NUM_THREADS", raising=False)
    cores = len(os.sched_getaffinity(0))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    pol = device_policy(device="cpu")
    assert pol.num_threads == 1
    if cores > 1:
        assert "OMP_NUM_THREADS" in pol.reason
    monkeypatch.setenv("OMP_NUM_THREADS", str(cores + 8))  # more than the machine has: cores still win
    assert device_policy(device="cpu").num_threads == cores
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MEDIMG_NUM_THREADS", "2")  # the kit's own setting has the last word
    assert device_policy(device="cpu").num_threads == 2


def test_deterministic_flags(monkeypatch):
    was = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic
    try:
        device_policy(device="cpu").apply_backend_flags(deterministic=True)
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
        assert os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    finally:
        torch.use_deterministic_algorithms(was[0])
        torch.backends.cudnn.deterministic = was[1]


def test_choice_cache_lives_in_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDIMG_DATA", str(tmp_path))
    assert calibration_file().is_relative_to(tmp_path) and cached_choices() == {}
    here = machine_signature("cpu")
    assert torch.__version__.split("+")[0] in here
    pol = device_policy(device="cpu")  # a choice measured on N threads is not reused on another count
    assert f"|{pol.num_threads}t|" in pol.signature() and pol.signature() != here
    store_choice("k1", {"machine": here, "choice": "bf16+channels_last", "why": "measured"})
    store_choice("k2", {"machine": "other-machine", "choice": "fp32+contiguous", "why": "measured"})
    stored = json.loads(calibration_file().read_text())["entries"]
    assert set(stored) == {"k1", "k2"} and "measured_at" in stored["k1"]
    assert set(cached_choices(here)) == {"k1"}
    assert clear_choices(here) == 1 and set(cached_choices()) == {"k2"}
