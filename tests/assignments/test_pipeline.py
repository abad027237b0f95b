"""The real nbgrader pipeline, end to end, for every assignment in assignments/source/.

Per assignment, in a temporary copy of the course, with the real nbgrader CLI (no mocks): the source
validates; generate_assignment releases it; the release holds no solutions or hidden tests and
``validate --invert`` fails every test; four generated submissions (solution, blank, partial delivered
as an LMS zip via zip_collect, tamper) are graded in ONE ``nbgrader autograde`` call and every grade
cell is compared with its expectation; feedback holds no hidden test source or expected values;
export writes the totals. New assignments are picked up automatically.
"""

from __future__ import annotations

import csv
import html
import io
import re
import tokenize
from pathlib import Path

import nbformat
import pytest

from medimg_kernel.grading.course_folder import assignments, notebook_path
from medimg_kernel.grading.fixtures import layout
from medimg_kernel.grading.markers import HIDDEN_TESTS, SOLUTION, regions
from medimg_kernel.grading.pipeline import DRY_RUN_STAGES, DryRun, dry_run, export, gradebook_scores

COURSE = Path(__file__).resolve().parents[2] / "assignments"
ASSIGNMENTS = assignments(COURSE)
# The three attack submissions (medimg_kernel/grading/attacks.py) are generic: the same code in the first
# solution cell of any assignment. They are graded for two assignments, one with a helper module beside
# the notebook, rather than for all of them (each adds three notebook runs to every dry run). Those two also
# run `nbgrader validate` on the source; for the others the "solution" submission (the source's answers,
# graded with the source's hidden tests) stands in for it: test_solution_scores_max_once_written_answers_are_graded.
ATTACKED = tuple(a for a in ("01_medical_images", "03_segmentation") if a in ASSIGNMENTS)
_NO_SOURCE_VALIDATION = tuple(s for s in DRY_RUN_STAGES if s.name != "validate")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def run(request, tmp_path_factory) -> DryRun:
    """One full pipeline run per assignment, shared by the tests below."""
    name = request.param
    # two graders at a time (autograde --jobs 2 gives the same gradebook as a serial run: tested elsewhere)
    full = name in ATTACKED
    return dry_run(COURSE, name, tmp_path_factory.mktemp(name) / "course", jobs=2, attacks=full,
                   stages=None if full else _NO_SOURCE_VALIDATION)


def _nb(path: Path):
    return nbformat.read(str(path), as_version=4)


def _source(run: DryRun):
    return _nb(notebook_path(run.course, run.assignment))


def _release_text(run: DryRun) -> str:
    return (run.course / "release" / run.assignment / f"{run.assignment}.ipynb").read_text(encoding="utf-8")


def _distinctive_lines(text: str, min_len: int = 12) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if len(ln.strip()) >= min_len]


def _public_lines(source) -> set[str]:
    """Distinctive lines of the source notebook outside hidden-test and solution regions."""
    public: set[str] = set()
    for cell in source.cells:
        text = cell.source
        for region in regions(text, HIDDEN_TESTS):
            text = text.replace(region, "")
        text = re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "", text, flags=re.S)
        public.update(_distinctive_lines(text))
    return public


def _hidden_only_lines(source) -> list[str]:
    public = _public_lines(source)
    return [
        ln
        for c in source.cells
        for r in regions(c.source, HIDDEN_TESTS)
        for ln in _distinctive_lines(r)
        if ln not in public
    ]


def _secret_literals(region: str, public: str) -> set[str]:
    """Numbers (3+ chars) and strings (3+ chars) in a hidden region that the released notebook lacks."""
    out: set[str] = set()
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(region).readline))
    except (tokenize.TokenError, IndentationError):
        return out
    for t in toks:
        if t.type == tokenize.NUMBER and len(t.string) >= 3:
            val = t.string
        elif t.type == tokenize.STRING:
            val = t.string.strip("'\"")
            if len(val) < 3 or not re.search(r"\w", val):
                continue
        else:
            continue
        if not re.search(rf"(?<![\w.]){re.escape(val)}(?![\w.])", public):
            out.add(val)
    return out


def _visible_text(html_text: str) -> str:
    text = re.sub(r"<(style|script)\b.*?</\1>", " ", html_text, flags=re.S | re.I)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return re.sub(r"Score:\s*[\d.]+\s*/\s*[\d.]+", " ", text)  # nbgrader's own score annotations


def test_assignments_discovered():
    assert len(ASSIGNMENTS) >= 1, f"no assignments in {COURSE / 'source'}"


def test_source_validates_with_full_marks(run: DryRun):
    if run.assignment not in ATTACKED:
        assert "validate_source" not in run.outputs  # skipped by design (see ATTACKED)
        return
    assert run.source_valid, run.outputs["validate_source"][-3000:]


def test_release_has_no_solutions_and_no_hidden_tests(run: DryRun):
    text = _release_text(run)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert "HIDDEN TESTS" not in text
    source = _source(run)
    for line in _hidden_only_lines(source):
        assert line not in text, f"hidden test line leaked into the release: {line!r}"
    public = _public_lines(source)
    release_lines = {
        ln.strip()
        for c in _nb(Path(run.course / "release" / run.assignment / f"{run.assignment}.ipynb")).cells
        for ln in c.source.splitlines()
    }
    for cell in source.cells:
        for region in regions(cell.source, SOLUTION):
            for line in _distinctive_lines(region):
                if line not in public:
                    assert line not in release_lines, f"solution line leaked into the release: {line!r}"


def test_release_validate_invert_fails_every_test(run: DryRun):
    assert run.release_fails_all, run.outputs["validate_release"][-3000:]


def test_points_add_up(run: DryRun):
    lay = layout(_source(run))
    assert len(lay.exercises) >= 3, f"{run.assignment}: needs at least 3 autograded exercises"
    assert all(lay.tests.get(ex) for ex in lay.exercises), "every exercise needs a tests cell"
    assert run.max_points == pytest.approx(lay.max_points)
    for student, row in run.actual.items():
        assert row["_max"] == pytest.approx(run.max_points), student


def test_every_grade_matches_its_expectation(run: DryRun):
    assert set(run.actual) == set(run.expected), "every fixture submission was graded"
    assert run.mismatches() == [], run.summary()


def test_solution_scores_max_once_written_answers_are_graded(run: DryRun):
    from nbgrader.api import Gradebook

    lay = layout(_source(run))
    auto_max = sum(lay.points[g] for ex in lay.exercises for g in lay.tests[ex])
    assert run.actual["solution"]["_total"] == pytest.approx(auto_max)
    # the instructor grades the written answers (what the formgrader does), then the total is the max
    with Gradebook(f"sqlite:///{run.course / 'gradebook.db'}") as gb:
        for gid in lay.manual + lay.tasks:
            grade = gb.find_grade(gid, run.assignment, run.assignment, "solution")
            grade.manual_score = lay.points[gid]
        gb.db.commit()
    assert gradebook_scores(run.course, run.assignment)["solution"]["_total"] == pytest.approx(run.max_points)


def test_blank_scores_zero(run: DryRun):
    assert run.actual["blank"]["_total"] == 0


def test_partial_scores_exactly_the_solved_exercises(run: DryRun):
    want = sum(v or 0 for v in run.expected["partial"].values())
    assert 0 < want < run.max_points
    assert run.actual["partial"]["_total"] == pytest.approx(want)
    assert any("zip_collect" in n for n in run.notes["partial"])


def test_tamper_cases_each_end_as_expected(run: DryRun):
    cases, got, source = run.cases["tamper"], run.actual["tamper"], _source(run)
    lay = layout(source)
    autograded = _nb(run.course / "autograded" / "tamper" / run.assignment / f"{run.assignment}.ipynb")
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in autograded.cells}
    src_by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in source.cells}
    # a correct answer that warns (and whose test cell was deleted): restored and full marks
    assert "warning" in cases and "deleted_test" in cases
    restored = by_id[cases["deleted_test"]]
    assert "was missing from the submission" in restored.source
    for gid in lay.tests[cases["warning"]]:
        assert got[gid][0] == lay.points[gid], f"warning/deleted cell {gid}: {got[gid]}"
        assert not any(o.get("name") == "stderr" for o in by_id[gid].outputs)
    # locked test cells emptied by the student: restored, so the unsolved exercise scores 0
    for gid in cases["edited_tests"]:
        assert by_id[gid].source == src_by_id[gid].source
        assert got[gid][0] == 0
    # an endless loop: stopped by the time budget, 0 for that exercise only
    for gid in lay.tests[cases["endless_loop"]]:
        assert got[gid][0] == 0
        assert "time budget" in "".join(o.get("text", "") for o in by_id[gid].outputs)
    for ex in lay.exercises:  # every other exercise graded as if nothing else happened
        for g in lay.tests[ex]:
            assert got[g][0] == run.expected["tamper"][g], g
    # the edited locked setup cell was restored from the source
    if "edited_locked" in cases:
        assert by_id[cases["edited_locked"]].source == src_by_id[cases["edited_locked"]].source
    # helper files were restored from the source
    for rel in cases.get("helper_files", []):
        graded = run.course / "autograded" / "tamper" / run.assignment / rel
        assert graded.read_bytes() == (run.course / "source" / run.assignment / rel).read_bytes(), rel


def test_feedback_has_no_hidden_tests_or_expected_values(run: DryRun):
    source = _source(run)
    release = _release_text(run)
    fb_files = sorted((run.course / "feedback").glob(f"*/{run.assignment}/*.html"))
    assert {p.parts[-3] for p in fb_files} == set(run.expected)
    hidden = [r for c in source.cells for r in regions(c.source, HIDDEN_TESTS)]
    assert hidden, "the assignment has hidden tests"
    for path in fb_files:
        student = path.parts[-3]
        submitted = run.course / "submitted" / student / run.assignment / f"{run.assignment}.ipynb"
        public = release + submitted.read_text(encoding="utf-8")  # what the student already had
        text = _visible_text(path.read_text(encoding="utf-8"))
        assert "HIDDEN TESTS" not in text
        for line in _hidden_only_lines(source):
            assert line not in text, f"{student}: hidden test line in feedback: {line!r}"
        for region in hidden:
            for secret in _secret_literals(region, public):
                assert not re.search(rf"(?<![\w.]){re.escape(secret)}(?![\w.])", text), (
                    f"{student}: hidden literal {secret!r} appears in feedback"
                )
    # helper modules and the gradebook never travel with feedback beyond what was released
    for path in (run.course / "feedback").rglob("*"):
        assert path.name != "gradebook.db"


def test_attacks_score_no_more_than_blank_and_leave_no_trace(run: DryRun):
    """Solution-cell code that patches the checks, unhooks the guard or reaches outside the submission
    (see medimg_kernel/grading/attacks.py) scores no more than a blank notebook and changes nothing."""
    from medimg_kernel.grading.attacks import ATTACKS, ESCAPE_MARKERS

    assert len(ATTACKED) == 2
    if run.assignment not in ATTACKED:
        assert not set(ATTACKS) & set(run.actual), "attacks are graded only for the assignments in ATTACKED"
        return
    blank = run.actual["blank"]["_total"]
    for name in ATTACKS:
        assert name in run.actual, f"{name} was not graded"
        assert run.actual[name]["_total"] <= blank, f"{name} scored {run.actual[name]['_total']} > blank {blank}"
    marker = ESCAPE_MARKERS[0]
    for path in (run.course / "source" / run.assignment / f"{marker}.py", run.course / "source" / f"{marker}.py",
                 Path.home() / f"{marker}.txt", Path("/tmp") / f"{marker}.txt"):
        assert not path.exists(), f"a submission wrote {path}"
    assert marker.encode() not in (run.course / "gradebook.db").read_bytes()


def test_written_answers_carry_a_rubric_shown_in_feedback(run: DryRun):
    """Every manually graded answer has a marking rubric whose points add up, shown to the grader and
    the student (formgrader and feedback render the locked rubric cell under the answer)."""
    source = _source(run)
    manual = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")
              and c.metadata.get("nbgrader", {}).get("solution")]
    for cell in manual:
        gid = cell.metadata["nbgrader"]["grade_id"]
        rubric = cell.metadata.get("medimg", {}).get("rubric")
        assert rubric, f"{gid}: a written answer needs a rubric cell (role rubric, for={gid})"
        assert sum(r["points"] for r in rubric) == cell.metadata["nbgrader"]["points"]
        fb = sorted((run.course / "feedback").glob(f"solution/{run.assignment}/*.html"))
        assert fb, "no feedback for the solution fixture"
        text = html.unescape(fb[0].read_text(encoding="utf-8"))
        for r in rubric:
            assert r["criterion"][:40] in text, f"{gid}: rubric line missing from feedback: {r['criterion']!r}"


def test_export_writes_every_total(run: DryRun):
    csv_path = export(run.course, run.course / "grades.csv")
    rows = {r["student_id"]: r for r in csv.DictReader(csv_path.open()) if r["assignment"] == run.assignment}
    assert set(rows) == set(run.expected)
    scores = gradebook_scores(run.course, run.assignment)
    for student, row in rows.items():
        assert float(row["score"]) == pytest.approx(scores[student]["_total"])
        assert float(row["max_score"]) == pytest.approx(run.max_points)
