"""Shared pytest configuration: GPU tests skip cleanly without CUDA; artefacts folder; quiet data dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts"


def _has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    if _has_cuda():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (none on this machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


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
