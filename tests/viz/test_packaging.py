"""The light viewer's ES modules ship with the package (no npm build): source checkout and wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from medimg_kernel.viz._assets import asset_path

REPO = Path(__file__).resolve().parents[2]


def test_sources_are_found_and_have_no_network_imports():
    for name in ("light_viewer.js", "light_viewer.css", "webgl_probe.js", "webgl_probe.css"):
        path = asset_path(name)
        text = path.read_text()
        assert "http://" not in text and "https://" not in text, (
            f"{name} must not load anything from the network"
        )
    js = asset_path("light_viewer.js").read_text()
    assert (
        "export default" in js
        and "stopPropagation" in js
        and "import " not in js.split("export default")[0][:200]
    )


@pytest.mark.slow
def test_wheel_carries_the_widget_sources(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    wheel = next(tmp_path.glob("medimg_kernel-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("light_viewer.js", "light_viewer.css", "webgl_probe.js", "webgl_probe.css"):
        assert any(n.endswith(f".data/data/share/medimg/widgets/{name}") for n in names), names[-20:]
