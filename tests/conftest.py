"""Shared pytest configuration: GPU tests skip only without CUDA; in CI browser tests must run; artefacts.

- ``gpu`` tests skip when PyTorch reports no CUDA device. Any other error in the probe (a broken CUDA
  install, a torch that does not import) is raised, never turned into a skip.
- With ``CI=true`` (as ``.ci/run`` and most CI services set it) a ``browser`` test that skips, for any
  reason, is reported as a failure, and a missing Chromium stops the run at collection: CI must not go
  green without the browser tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts"


def in_ci() -> bool:
    """True when running in CI (``CI`` set to a true value, as GitHub/GitLab and ``.ci/run`` do)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def _has_cuda() -> bool:
    """Whether a CUDA device is usable; only "no CUDA" returns False, anything unexpected raises."""
    import torch  # an ImportError here is a broken environment, not "no GPU"

    if not torch.backends.cuda.is_built():
        return False  # a CPU build of PyTorch
    if torch.cuda.device_count() == 0:
        return False  # a CUDA build on a machine without a GPU (or with CUDA_VISIBLE_DEVICES="")
    torch.zeros(1, device="cuda")  # a GPU is there: initialising it must work, else raise
    return True


def pytest_collection_modifyitems(config, items):
    if any("browser" in item.keywords for item in items) and in_ci():
        from viz.labharness import browser_skip_reason  # tests/ is on sys.path (rootdir conftest)

        reason = browser_skip_reason()
        if reason is not None:
            raise pytest.UsageError(f"CI=true but the browser tests cannot run: {reason}")
    if not any("gpu" in item.keywords for item in items) or _has_cuda():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (none on this machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci() and "browser" in item.keywords:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"browser test skipped in CI (CI=true), which counts as a failure: {reason}"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Folder for test artefacts (screenshots, reports); gitignored, kept after the run."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    """Keep tests from reading the user's MEDIMG_* settings or writing into their data cache."""
    for var in ("MEDIMG_DEVICE", "MEDIMG_PRECISION", "MEDIMG_TIER", "MEDIMG_MIRROR", "MEDIMG_REGISTRY"):
        monkeypatch.delenv(var, raising=False)
    if "MEDIMG_TEST_KEEP_DATA" not in os.environ:
        monkeypatch.setenv("MEDIMG_DATA", str(tmp_path_factory.getbasetemp() / "medimg-data"))
    monkeypatch.setenv("MPLBACKEND", "agg")
