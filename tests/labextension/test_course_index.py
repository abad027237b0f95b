"""The course index on the real course folder, and the path guard, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from medimg_kernel.errors import BadPathError
from medimg_kernel.server.course_index import course_index
from medimg_kernel.server.progress_store import ProgressStore
from medimg_kernel.server.safepaths import resolve_inside

REPO = Path(__file__).resolve().parents[2]


def test_real_course_lessons_in_order_with_titles_objectives_and_assignments(tmp_path):
    idx = course_index(REPO, ProgressStore(REPO, folder=tmp_path), tier="smoke")
    numbers = [le["number"] for le in idx["lessons"]]
    assert numbers == sorted(numbers) and numbers[:11] == [f"{i:02d}" for i in range(11)]
    assert idx["welcome"] == "notebooks/00_welcome.ipynb" and idx["lessons_dir"] == "notebooks"
    for le in idx["lessons"]:
        assert le["title"] and not le["title"][:2].isdigit(), le["title"]
        assert le["objectives"], f"{le['path']}: no learning objectives found"
        if le["number"] != "00":
            a = le["assignment"]
            assert a is not None and a["name"].startswith(le["number"]) and (REPO / a["path"]).is_file()
            assert a["status"]["state"] in ("not_started", "opened", "run", "passed", "failed")
    seg = next(le for le in idx["lessons"] if le["number"] == "03")
    assert seg["title"] == "Segmentation with a 3D U-Net" and len(seg["objectives"]) == 4
    assert seg["objectives"][0].startswith("train a 3D U-Net") and seg["budget_s"] == 90


def test_resolve_inside_accepts_inside_and_refuses_the_rest(tmp_path):
    root = tmp_path / "course"
    (root / "a").mkdir(parents=True)
    (root / "a" / "n.ipynb").write_text("{}")
    (tmp_path / "secret.ipynb").write_text("{}")
    (root / "a" / "inner-link.ipynb").symlink_to(root / "a" / "n.ipynb")
    (root / "a" / "out-link.ipynb").symlink_to(tmp_path / "secret.ipynb")
    assert resolve_inside(root, "a/n.ipynb") == (root / "a" / "n.ipynb").resolve()
    assert resolve_inside(root, "a/inner-link.ipynb") == (root / "a" / "n.ipynb").resolve()
    for bad in ("../secret.ipynb", "a/../../secret.ipynb", str(tmp_path / "secret.ipynb"), "a/out-link.ipynb",
                "C:/x.ipynb", "\\\\host\\share", "", "a\x00b"):
        with pytest.raises(BadPathError):
            resolve_inside(root, bad)
