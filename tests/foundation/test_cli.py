import json
import os
import subprocess
import sys

import pytest

from medimg_kernel.cli import SUBCOMMANDS, build_parser


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "medimg_kernel", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_help_everywhere():
    parser = build_parser()
    assert "COMMAND" in parser.format_help()
    names = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    assert {"env", "kernel", "course"} <= set(names) <= set(SUBCOMMANDS)
    for name in names:
        res = run_cli(name, "--help")
        assert res.returncode == 0, res.stderr
        assert "usage: medimg" in res.stdout


def test_env_json_has_required_keys():
    res = run_cli("env", "--json")
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)
    for key in ("versions", "device", "gpu", "cpu_bf16", "precision", "memory_format", "tier", "data_dir",
                "widgets", "kernelspec"):
        assert key in rep, key
    assert rep["versions"]["torch"].startswith("2.")
    assert rep["tier"]["name"] in ("smoke", "standard", "full")


def test_env_reports_bad_device_setting_without_traceback():
    import torch

    if torch.cuda.is_available():
        pytest.skip("machine has CUDA")
    res = run_cli("env", env={"MEDIMG_DEVICE": "cuda"})
    assert res.returncode == 0
    assert "Traceback" not in res.stderr
    assert "no usable CUDA GPU" in res.stdout


def test_unknown_tier_is_one_line_error(tmp_path):
    res = run_cli("course", "run", "--tier", "mega", "--out-dir", str(tmp_path))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert "unknown tier 'mega'" in res.stderr and "smoke" in res.stderr
