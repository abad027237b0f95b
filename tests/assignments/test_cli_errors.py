"""`medimg grade` refuses bad input with one clear line, exit 2, and leaves nothing behind."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from medimg_kernel.grading.pipeline import copy_course

COURSE = Path(__file__).resolve().parents[2] / "assignments"


@pytest.fixture()
def course(tmp_path: Path) -> Path:
    return copy_course(COURSE, tmp_path / "course", ["01_medical_images"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["validate", "missing.ipynb"], "notebook .*missing.ipynb not found"),
        (["scores", "01_medical_images"], "no gradebook at .*gradebook.db yet"),
        (["autograde", "01_medical_images"], "no submissions of '01_medical_images'.*collect them first"),
        (["autograde", "01_medical_images", "--jobs", "0"], r"jobs=0: .*jobs >= 1"),
        (["build", "nosuch"], "no authoring file for nosuch"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(course: Path, args: list[str], message: str) -> None:
    before = sorted(p.relative_to(course) for p in course.rglob("*"))
    proc = subprocess.run([sys.executable, "-m", "medimg_kernel", "grade", "--course", str(course), *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert re.search(message, err), err
    assert sorted(p.relative_to(course) for p in course.rglob("*")) == before
