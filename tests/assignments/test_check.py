"""Unit tests for ``mk.check``, plus its behaviour inside a real Jupyter kernel and without nbgrader."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import medimg_kernel as mk
from medimg_kernel.grading.check import CheckFailed


def test_passing_tests_print_one_line_each_and_return_none(capsys):
    def test_adds():
        """two plus two is four. Hint: use +"""
        assert 2 + 2 == 4

    def test_numpy_true():
        return np.bool_(True)

    assert mk.check("sums", test_adds, test_numpy_true) is None
    out = capsys.readouterr().out
    assert "\u2714 sums: two plus two is four" in out and "Hint" not in out
    assert "\u2714 sums: numpy true" in out
    assert "sums: all 2 visible tests passed." in out


def test_failure_raises_assertion_error_with_reason_and_hint(capsys):
    def test_bad():
        """the answer is 3. Hint: count again"""
        assert 1 + 1 == 3, "expected 3, got 2"

    def test_returns_false():
        return np.bool_(False)

    with pytest.raises(CheckFailed) as info:
        mk.check("count", test_bad, test_returns_false)
    assert isinstance(info.value, AssertionError)
    assert "2 of 2 visible tests failed" in str(info.value)
    out = capsys.readouterr().out
    assert "\u2718 count: the answer is 3" in out
    assert "why:  AssertionError: expected 3, got 2" in out
    assert "hint: count again" in out
    assert "the test returned False" in out


def test_not_implemented_and_system_exit_are_failures_not_crashes(capsys):
    def test_stub():
        raise NotImplementedError()

    def test_exit():
        sys.exit(3)

    with pytest.raises(CheckFailed):
        mk.check("stub", test_stub, test_exit)
    out = capsys.readouterr().out
    assert "not implemented yet" in out and "SystemExit" in out


def test_warnings_logging_and_stderr_are_silenced(capfd):
    def test_noisy():
        warnings.warn("careful", UserWarning, stacklevel=1)
        print("python stderr", file=sys.stderr)
        logging.getLogger("student").error("a logged error")
        import os

        os.write(2, b"fd-level stderr\n")
        assert True

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a leaked warning would raise here
        mk.check("noisy", test_noisy)
    captured = capfd.readouterr()
    assert captured.err == ""
    assert "\u2714 noisy" in captured.out


def test_time_budget_stops_an_endless_loop_even_if_the_answer_catches_exceptions(capsys):
    def test_loop():
        while True:
            try:
                while True:
                    pass
            except Exception:  # an answer that swallows errors must still be stopped
                pass

    def test_after():
        assert True

    with pytest.raises(CheckFailed):  # returning at all means the endless loop was stopped
        mk.check("loop", test_loop, test_after, budget=0.5)
    out = capsys.readouterr().out
    assert "time budget of 0 s ran out" in out or "time budget" in out
    assert "not run: the exercise's time budget was used up" in out


def test_budget_scale_from_environment(monkeypatch, capsys):
    monkeypatch.setenv("MEDIMG_CHECK_BUDGET_SCALE", "0.1")

    def test_slow():
        time.sleep(1.0)

    with pytest.raises(CheckFailed):
        mk.check("scaled", test_slow, budget=2)  # 2 s * 0.1 = 0.2 s
    assert "time budget" in capsys.readouterr().out


def test_hidden_tests_reveal_nothing(capsys):
    def _secret_case():
        print("student debug: input was 4242")
        assert 0.7312 == 1.0, "expected 0.7312"

    def _other():
        assert True

    with pytest.raises(CheckFailed) as info:
        mk.check("dice", _secret_case, _other, hidden=True)
    out = capsys.readouterr().out
    assert out.strip() == "dice: 1 of 2 hidden tests passed."
    message = str(info.value)
    assert "0.7312" not in message and "_secret_case" not in message
    rendered = info.value._render_traceback_()
    assert len(rendered) == 1 and "0.7312" not in rendered[0] and "4242" not in rendered[0]


def test_bad_arguments_are_reported():
    with pytest.raises(ValueError, match="at least one test"):
        mk.check("x")
    with pytest.raises(TypeError, match="not a test function"):
        mk.check("x", 42)


def test_import_needs_neither_nbgrader_nor_torch():
    code = (
        "import sys\n"
        "sys.modules['nbgrader'] = None  # make any nbgrader import fail\n"
        "import medimg_kernel as mk\n"
        "def test_ok():\n    assert True\n"
        "mk.check('ok', test_ok)\n"
        "assert 'torch' not in sys.modules and 'nbgrader' not in [m for m in sys.modules if sys.modules[m]]\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "ok: all 1 visible test passed." in proc.stdout


@pytest.mark.slow
def test_in_a_real_kernel_nbgrader_scores_the_cells_right():
    """In a Jupyter kernel: a warning answer leaves no stderr output; a failure is a one-line error."""
    import nbformat
    from nbclient import NotebookClient
    from nbgrader.utils import determine_grade

    def grade_cell(src: str, gid: str):
        cell = nbformat.v4.new_code_cell(src)
        cell.metadata["nbgrader"] = {
            "grade": True,
            "solution": False,
            "locked": True,
            "points": 2,
            "grade_id": gid,
            "schema_version": 3,
        }
        return cell

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import warnings, sys\nimport medimg_kernel as mk\n"
            "def answer(x):\n    warnings.warn('noisy', UserWarning)\n"
            "    print('dbg', file=sys.stderr)\n    return 2 * x\n"
        ),
        grade_cell("def test_double():\n    assert answer(2) == 4\nmk.check('double', test_double)", "ok"),
        grade_cell(
            "def _hidden():\n    assert answer(3) == 7, 'expected 7'\n"
            "mk.check('double', _hidden, hidden=True)",
            "bad",
        ),
    ]
    NotebookClient(nb, timeout=60, allow_errors=True, kernel_name="python3").execute()
    ok, bad = nb.cells[1], nb.cells[2]
    assert determine_grade(ok) == (2.0, 2.0)
    assert not any(o.get("name") == "stderr" for o in ok.outputs)
    assert determine_grade(bad) == (0, 2.0)
    errors = [o for o in bad.outputs if o.output_type == "error"]
    assert len(errors) == 1 and len(errors[0].traceback) == 1
    assert "expected 7" not in "".join(errors[0].traceback) and "_hidden" not in "".join(errors[0].traceback)
