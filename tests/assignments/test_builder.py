"""The authoring format, the notebook builder and the builder-sync check."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from medimg_kernel.errors import ConfigError
from medimg_kernel.grading.authoring import parse_text
from medimg_kernel.grading.builder import build, build_notebook
from medimg_kernel.grading.fixtures import layout

COURSE = Path(__file__).resolve().parents[2] / "assignments"

EXAMPLE = """\
# header comment, not copied

# %% [markdown] readonly id=intro
# # Title
#
# Some *text*.

# %% readonly id=setup
import numpy as np

# %% solution id=ans exercise=double
def double(x):
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION

# %% tests id=ans_tests points=2
assert double(2) == 4

# %% hidden id=ans_more points=1
assert double(3) == 6

# %% [markdown] readonly id=q_text
# Why?

# %% [markdown] manual id=q points=3
# ### BEGIN SOLUTION
# Because.
# ### END SOLUTION

# %% [markdown] task id=t points=1
# Describe a plot.

# %%
scratch = 1
"""


def _meta(nb, gid):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid).metadata


def test_roles_become_schema3_metadata():
    nb = build_notebook(parse_text(EXAMPLE, "demo"))
    nbformat.validate(nb)
    assert nb.cells[0].source == "# Title\n\nSome *text*."
    assert [c.cell_type for c in nb.cells] == [
        "markdown",
        "code",
        "code",
        "code",
        "code",
        "markdown",
        "markdown",
        "markdown",
        "code",
    ]
    expect = {
        "setup": dict(grade=False, solution=False, locked=True),
        "ans": dict(grade=False, solution=True, locked=False),
        "ans_tests": dict(grade=True, solution=False, locked=True, points=2),
        "q": dict(grade=True, solution=True, locked=False, points=3),
        "t": dict(grade=False, solution=False, locked=True, task=True, points=1),
    }
    for gid, want in expect.items():
        got = _meta(nb, gid)["nbgrader"]
        assert got["schema_version"] == 3 and got["grade_id"] == gid
        assert {k: got[k] for k in want} == want, gid
    assert _meta(nb, "ans")["medimg"] == {"exercise": "double"}
    assert _meta(nb, "ans_more")["medimg"] == {"exercise": "double"}
    hidden = next(c for c in nb.cells if c.id == "ans_more")
    assert hidden.source.startswith("### BEGIN HIDDEN TESTS\n") and hidden.source.endswith(
        "### END HIDDEN TESTS"
    )
    assert "nbgrader" not in nb.cells[-1].metadata and nb.cells[-1].source == "scratch = 1"
    lay = layout(nb)
    assert lay.exercises == ["double"] and lay.tests["double"] == ["ans_tests", "ans_more"]
    assert lay.manual == ["q"] and lay.tasks == ["t"] and lay.max_points == 7


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("readonly id=setup", "frozen id=setup"), "unknown role 'frozen'"),
        (("readonly id=setup", "readonly"), "needs id="),
        (("readonly id=setup", "readonly id=intro"), "duplicate id 'intro'"),
        (("tests id=ans_tests points=2", "tests id=ans_tests"), "needs points="),
        (("    ### BEGIN SOLUTION\n", ""), "needs ### BEGIN SOLUTION"),
        (
            (
                "# %% tests id=ans_tests points=2\n",
                "# %% readonly id=gap\npass\n\n# %% tests id=ans_tests points=2\n",
            ),
            "must directly follow a solution",
        ),
        (("readonly id=setup", "readonly id=setup points=1"), "carries no points"),
        (
            ("import numpy as np", "import numpy as np\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS"),
            "only allowed in tests cells",
        ),
        (("# Some *text*.", "Some text without a hash"), "must start with '# '"),
        (("readonly id=setup", "readonly id=set.up"), "must be 1-64 letters"),
    ],
)
def test_authoring_mistakes_are_refused_with_the_line(change, message):
    old, new = change
    assert old in EXAMPLE
    with pytest.raises(ConfigError, match=message) as info:
        parse_text(EXAMPLE.replace(old, new, 1), "demo")
    assert "<demo>:" in str(info.value)


def test_build_is_deterministic_and_check_detects_drift(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(COURSE / "authoring", course / "authoring")
    shutil.copy(COURSE / "nbgrader_config.py", course)
    first = build(course)
    assert first and {r.status for r in first} == {"written"}
    assert {r.status for r in build(course, check=True)} == {"unchanged"}
    target = first[0].notebook
    target.write_text(target.read_text().replace("Exercise", "Exercice", 1))
    res = build(course, check=True)
    assert [r.status for r in res if r.notebook == target] == ["out-of-date"]
    with pytest.raises(ConfigError, match="no authoring file for nope"):
        build(course, ["nope"])


def test_committed_notebooks_are_in_sync_with_their_authoring_files():
    """The CI check: `medimg grade build --check` on the repository's course."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "medimg_kernel",
            "grade",
            "--course",
            str(COURSE),
            "build",
            "--check",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(proc.stdout)
    names = {r["assignment"] for r in results}
    assert names == {p.stem for p in (COURSE / "authoring").glob("*.py") if not p.name.startswith("_")}
    assert all(r["status"] == "unchanged" for r in results)
    # every source notebook has an authoring file (nothing edited by hand only)
    sources = {p.name for p in (COURSE / "source").iterdir() if p.is_dir()}
    assert sources == names


def test_cli_build_check_exit_code_on_drift(tmp_path):
    course = tmp_path / "c"
    shutil.copytree(COURSE / "authoring", course / "authoring")
    shutil.copy(COURSE / "nbgrader_config.py", course)
    cmd = [sys.executable, "-m", "medimg_kernel", "grade", "--course", str(course), "build"]
    assert subprocess.run([*cmd, "--check"], capture_output=True, timeout=120).returncode == 1
    assert subprocess.run(cmd, capture_output=True, timeout=120).returncode == 0
    proc = subprocess.run([*cmd, "--check"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "unchanged" in proc.stdout


def test_cli_list_reports_every_assignment_with_points():
    proc = subprocess.run(
        [sys.executable, "-m", "medimg_kernel", "grade", "--course", str(COURSE), "list", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = {r["assignment"]: r for r in json.loads(proc.stdout)}
    assert set(rows) == {p.name for p in (COURSE / "source").iterdir() if p.is_dir()}
    for row in rows.values():
        assert len(row["exercises"]) >= 3
        assert row["max_points"] == row["auto_points"] + row["manual_points"] > 0
    assert sum(r["manual_points"] for r in rows.values()) > 0, "the course has a manually graded answer"
