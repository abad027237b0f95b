"""CI and the browser harness look for Chromium in the same place (`.ci/run` fails if it is not there)."""

from __future__ import annotations

import re
from pathlib import Path

from .labharness import CHROMIUM


def test_ci_script_and_harness_agree_on_chromium():
    script = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert re.search(r"^CHROMIUM=(\S+)$", script, re.M).group(1) == CHROMIUM
    assert "export DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 CI=true" in script  # browser skips fail
    assert 'exit 1' in script.split("is missing after apt-get install chromium")[1][:200]
