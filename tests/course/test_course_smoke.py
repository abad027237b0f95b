"""The whole course in the smoke tier, executed once the way CI and students run it headless.

Each lesson declares in its notebook metadata what it must achieve, **relative to its own simple
baseline recorded in the same run** (``mk.record_metrics``), with a margin::

    "medimg": {"budget_s": 90, "expect": {
        "test_accuracy": {"baseline": "baseline_pixels_accuracy", "margin": 0.2, "chance": 0.167},
        "ece_after":     {"baseline": "ece_before", "margin": 0.05, "lower_is_better": true}}}

The test checks every notebook ran, reports times against budgets (with a generous ceiling instead of
a flaky hard timeout: shared CI machines are noisy), and asserts headline >= baseline + margin (or
<= baseline - margin for ``lower_is_better``). See ``EXPECT_RULES`` for the whole format.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pytest

from medimg_kernel.runtime.runner import course_notebooks

CEILING_FACTOR = 2.5  # reported budget x this = failure (load on CI must not make the test flaky)
COURSE_BUDGET_00_06_S = 7 * 60


def _selected() -> list:
    """The notebooks to run: all, or those named in ``$MEDIMG_SMOKE_ONLY`` (comma-separated file names)."""
    only = [n.strip() for n in os.environ.get("MEDIMG_SMOKE_ONLY", "").split(",") if n.strip()]
    return [p for p in course_notebooks() if not only or p.name in only]


@pytest.fixture(scope="module")
def course_report(tmp_path_factory, artifacts_dir):
    out = tmp_path_factory.mktemp("course")
    report = artifacts_dir / "course_smoke_report.json"
    only = [str(p) for p in _selected()] if os.environ.get("MEDIMG_SMOKE_ONLY") else []
    res = subprocess.run(
        # two notebooks at a time on CI's two cores: each notebook's seconds are then measured under load,
        # so a notebook that stays within CEILING_FACTOR x its budget here does so alone too
        [sys.executable, "-m", "medimg_kernel", "course", "run", "--tier", "smoke", "--jobs", "2", "--report",
         str(report), "--out-dir", str(out), *only],
        capture_output=True, text=True, timeout=3600,
        # strict-device mode: a lesson that calls a Trainer-placed model directly (a GPU-only crash) fails here
        env=dict(os.environ, MEDIMG_STRICT_DEVICE="1"),
    )
    rep = json.loads(report.read_text())
    return res, rep


def test_course_has_lessons():
    names = [p.name for p in course_notebooks()]
    assert names[0] == "00_welcome.ipynb"
    assert len(names) == len(set(n[:2] for n in names)), "duplicate lesson numbers"


@pytest.mark.slow
def test_every_notebook_runs(course_report):
    res, rep = course_report
    failed = [f"{nb['path']} cell {nb['cell']}: {nb['error']}" for nb in rep["notebooks"] if nb["status"] != "ok"]
    assert not failed, "\n".join(failed)
    assert res.returncode == 0
    assert len(rep["notebooks"]) == len(_selected())


@pytest.mark.slow
def test_budgets(course_report):
    _, rep = course_report
    lines, over = [], []
    first_half = 0.0
    for nb in rep["notebooks"]:
        meta = nbformat.read(nb["path"], as_version=4).metadata.get("medimg", {})
        budget = meta.get("budget_s", 90)
        lines.append(f"{nb['path']}: {nb['seconds']:.1f}s (budget {budget}s)")
        if nb["seconds"] > CEILING_FACTOR * budget:
            over.append(lines[-1])
        if nb["path"].rsplit("/", 1)[-1][:2] <= "06":
            first_half += nb["seconds"]
    print("\n".join(lines) + f"\n00-06 total: {first_half:.0f}s (budget {COURSE_BUDGET_00_06_S}s)")
    assert not over, "over the ceiling:\n" + "\n".join(over)
    assert first_half <= CEILING_FACTOR * COURSE_BUDGET_00_06_S


EXPECT_RULES = """\
Rule for lesson notebooks (metadata "medimg" -> "expect"), checked by tests/course/test_course_smoke.py:
  * every notebook in notebooks/ has a non-empty "expect" block;
  * every lesson (all but 00_welcome) has at least one entry
        "<headline>": {"baseline": "<baseline metric>", "margin": <number > 0>}
    where both metrics are recorded with mk.record_metrics in the same run, the baseline being the
    lesson's simple model (a linear model on pixels, a threshold/Otsu rule, a single modality, a
    naive method the lesson warns against, ...). The test asserts headline >= baseline + margin, or
    headline <= baseline - margin with "lower_is_better": true;
  * "chance": <number> is optional and documents chance level (the baseline + margin must beat it);
  * an entry without "baseline" (an absolute "min"/"max") must carry a "why" explaining why no
    baseline applies; "equals": "<metric>" requires two recorded metrics to be equal (00_welcome).
A result that is true only because of how the synthetic data were built must say so in the lesson."""


def expectation_problems(name: str, meta: dict, metrics: dict | None) -> list[str]:
    """Problems with one notebook's ``expect`` block; with ``metrics`` (a run's record) also the results."""
    expect = meta.get("expect") or {}
    out: list[str] = []
    if not expect:
        return [f"{name}: no 'expect' block in the notebook metadata"]
    lesson = not name.startswith("00_")
    if lesson and not any("baseline" in e for e in expect.values()):
        out.append(f"{name}: no entry compares a headline with a baseline recorded in the same run")
    for metric, e in expect.items():
        where = f"{name}:{metric}"
        if "baseline" in e:
            if not isinstance(e.get("margin"), (int, float)) or e["margin"] <= 0:
                out.append(f"{where}: 'margin' must be a number > 0, got {e.get('margin')!r}")
                continue
        elif "equals" not in e and not e.get("why"):
            out.append(f"{where}: an absolute min/max needs a 'why' (or use a 'baseline' and a 'margin')")
        if metrics is None:
            continue
        value = metrics.get(metric)
        if value is None:
            out.append(f"{where}: headline metric was not recorded (mk.record_metrics)")
            continue
        if "baseline" in e:
            base = metrics.get(e["baseline"])
            if base is None:
                out.append(f"{where}: baseline metric {e['baseline']!r} was not recorded in the same run")
                continue
            if "chance" in e and not e.get("lower_is_better") and base + e["margin"] <= e["chance"]:
                out.append(f"{where}: baseline {e['baseline']}={base:.4g} + margin does not beat chance {e['chance']}")
            if e.get("lower_is_better"):
                if not value <= base - e["margin"]:
                    out.append(f"{where}={value:.4g} is not <= baseline {e['baseline']}={base:.4g} - {e['margin']}")
            elif not value >= base + e["margin"]:
                out.append(f"{where}={value:.4g} is not >= baseline {e['baseline']}={base:.4g} + {e['margin']}")
        if "equals" in e and value != metrics.get(e["equals"]):
            out.append(f"{where}={value:.4g} != {e['equals']}={metrics.get(e['equals'])}")
        if "min" in e and value < e["min"]:
            out.append(f"{where}={value:.4g} < min {e['min']}")
        if "max" in e and value > e["max"]:
            out.append(f"{where}={value:.4g} > max {e['max']}")
        if "chance" in e and "baseline" not in e and "min" in e and e["min"] <= e["chance"]:
            out.append(f"{where}: min {e['min']} does not beat chance {e['chance']}")
    return out


def _meta(path) -> dict:
    return nbformat.read(path, as_version=4).metadata.get("medimg", {})


def test_every_lesson_declares_baseline_expectations():
    """Static and fast: every notebook's expect block follows the rule, and records what it names."""
    problems = []
    for path in course_notebooks():
        meta = _meta(path)
        problems += expectation_problems(path.name, meta, None)
        source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        for metric, e in (meta.get("expect") or {}).items():
            for name in (metric, e.get("baseline"), e.get("equals")):
                if name and name not in source:
                    problems.append(f"{path.name}: {name!r} is named in 'expect' but never recorded in the code")
    assert not problems, "\n".join(problems) + "\n\n" + EXPECT_RULES


@pytest.mark.slow
def test_metrics_beat_their_baselines(course_report):
    _, rep = course_report
    problems = []
    for nb in rep["notebooks"]:
        name = nb["path"].rsplit("/", 1)[-1]
        problems += expectation_problems(name, _meta(nb["path"]), nb["metrics"])
    assert not problems, "\n".join(problems) + "\n\n" + EXPECT_RULES
