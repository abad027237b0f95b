"""The student self-check ``mk.check``: run one exercise's tests with friendly output and a time budget.

A test is a function without arguments that raises (usually ``AssertionError``) or returns ``False``
when the student's answer is wrong. :func:`check` runs every test of one exercise, prints one line per
test with a hint on failure, and then returns ``None`` or raises :class:`CheckFailed`. That contract is
what nbgrader needs: a test cell scores full marks when it raises nothing and writes nothing to stderr,
and the value of the cell's last expression must not be a number (it would become the score).

While the tests run, warnings, ``logging`` and stderr (Python and file-descriptor level) are silenced,
so a correct answer that emits a ``UserWarning`` still scores. A time budget stops runaway answers
(``SIGALRM`` where available, i.e. Unix main thread; elsewhere a test that overran is marked failed
after it returns). Hidden tests (``hidden=True``) print only counts, silence the answer's ``print``
output too, and fail with a generic message, so feedback never reveals their inputs or expected values.

Works without nbgrader installed: it only reads ``NBGRADER_EXECUTION`` (set by nbgrader while grading)
and the budget scale ``MEDIMG_CHECK_BUDGET_SCALE``. Authors may set ``MEDIMG_CHECK_DEBUG=1`` to see why
hidden tests fail when running an authoring script; it is ignored while nbgrader grades.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ArgumentTypeError, ConfigError

__all__ = ["check", "CheckFailed", "TestOutcome", "DEFAULT_BUDGET_S"]

DEFAULT_BUDGET_S = 20.0

PASS_MARK = "\u2714"  # heavy check mark
FAIL_MARK = "\u2718"  # heavy ballot x


class CheckFailed(AssertionError):
    """One or more tests of an exercise failed; the per-test lines above say which and why.

    IPython shows only this one-line message (no traceback frames), so a failing hidden test never
    shows its source in a notebook or in nbgrader feedback.
    """

    def _render_traceback_(self) -> list[str]:  # IPython hook: replaces the traceback
        return [f"\x1b[0;31mCheckFailed\x1b[0m: {self}"]


class _BudgetExceeded(BaseException):
    """Raised by the alarm inside a test; a BaseException so ``except Exception`` in answers can't eat it."""


@dataclass(frozen=True)
class TestOutcome:
    """The result of one test: its description, pass/fail, a short reason and a hint."""

    name: str
    passed: bool
    reason: str = ""
    hint: str = ""
    seconds: float = 0.0


def _describe(test: Callable[[], Any], hints: Mapping[str, str] | None) -> tuple[str, str]:
    """Return (description, hint) from the test's docstring (first line; a ``Hint:`` line) or its name."""
    fname = getattr(test, "__name__", repr(test))
    doc = (getattr(test, "__doc__", None) or "").strip()
    lines = [ln.strip() for ln in doc.splitlines() if ln.strip()]
    first = lines[0] if lines else ""
    cut = first.lower().find("hint:")
    name = (first[:cut] if cut >= 0 else first).strip()
    if not name:
        name = fname.removeprefix("test_").replace("_", " ").strip() or fname
    hint = ""
    for i, ln in enumerate(lines):
        cut = ln.lower().find("hint:")
        if cut >= 0:
            hint = " ".join([ln[cut + 5 :].strip(), *lines[i + 1 :]]).strip()
            break
    if hints and fname in hints:
        hint = hints[fname]
    return name, hint


def _short_reason(err: BaseException) -> str:
    """One line describing why a test failed, without a traceback."""
    if isinstance(err, NotImplementedError):
        return "not implemented yet: replace `raise NotImplementedError()` with your code"
    if isinstance(err, _BudgetExceeded):
        return str(err)
    msg = str(err).strip().splitlines()
    text = f"{type(err).__name__}: {msg[0]}" if msg else type(err).__name__
    if isinstance(err, AssertionError) and not msg:
        # a bare `assert` gives no message: show the failing line of the test
        frames = traceback.extract_tb(err.__traceback__)
        if frames and frames[-1].line:
            text = f"assertion failed: {frames[-1].line.strip()}"
    return text if len(text) <= 300 else text[:297] + "..."


def _budget_scale() -> float:
    try:
        scale = float(os.environ.get("MEDIMG_CHECK_BUDGET_SCALE", "1") or 1)
    except ValueError:
        scale = 1.0
    return scale if scale > 0 and math.isfinite(scale) else 1.0


def _author_debug() -> bool:
    """``MEDIMG_CHECK_DEBUG=1`` shows why hidden tests fail, for authors; never while nbgrader grades."""
    return os.environ.get("MEDIMG_CHECK_DEBUG") == "1" and not os.environ.get("NBGRADER_EXECUTION")


def _can_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _alarm(seconds: float, budget: float) -> Iterator[None]:
    """Raise :class:`_BudgetExceeded` in the running code after ``seconds`` (Unix main thread only)."""
    if not _can_alarm():
        yield
        return

    def _on_alarm(signum: int, frame: Any) -> None:
        raise _BudgetExceeded(
            f"stopped: the exercise's time budget of {budget:.0f} s ran out (an endless loop? "
            "too many steps?)"
        )

    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _silenced(stdout: bool) -> Iterator[None]:
    """Silence warnings, logging and stderr (and stdout if asked), at Python and file-descriptor level."""
    sink = io.StringIO()
    saved_fds: list[tuple[int, int]] = []
    fds = [2, 1] if stdout else [2]
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:  # pragma: no cover
        devnull = -1
    if devnull >= 0:
        for fd in fds:
            with contextlib.suppress(OSError):
                saved_fds.append((fd, os.dup(fd)))
                os.dup2(devnull, fd)
    previous_disable = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            if stdout:
                with contextlib.redirect_stdout(sink):
                    yield
            else:
                yield
    finally:
        logging.disable(previous_disable)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        for fd, saved in reversed(saved_fds):
            with contextlib.suppress(OSError):
                os.dup2(saved, fd)
                os.close(saved)
        if devnull >= 0:
            os.close(devnull)


def _is_false(result: Any) -> bool:
    """True when a test returned a boolean False (Python or numpy), which counts as a failure."""
    return type(result).__name__ in ("bool", "bool_") and not bool(result)


def _run_tests(
    tests: tuple[Callable[[], Any], ...], hints: Mapping[str, str] | None, budget: float, hidden: bool
) -> list[TestOutcome]:
    outcomes: list[TestOutcome] = []
    start = time.perf_counter()
    for test in tests:
        name, hint = _describe(test, hints)
        remaining = budget - (time.perf_counter() - start)
        if remaining <= 0:
            outcomes.append(TestOutcome(name, False, "not run: the exercise's time budget was used up", hint))
            continue
        t0 = time.perf_counter()
        passed, reason = True, ""
        try:
            with _silenced(stdout=hidden), _alarm(remaining, budget):
                result = test()
            if _is_false(result):
                passed, reason = False, "the test returned False"
        except _BudgetExceeded as err:
            passed, reason = False, str(err)
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # noqa: B036 - SystemExit from an answer is a failure, not an exit
            passed, reason = False, _short_reason(err)
        took = time.perf_counter() - t0
        if passed and not _can_alarm() and took > remaining:
            passed, reason = False, f"took {took:.1f} s, over the time budget of {budget:.0f} s"
        outcomes.append(TestOutcome(name, passed, reason, hint, took))
    return outcomes


def check(
    exercise: str,
    *tests: Callable[[], Any],
    hints: Mapping[str, str] | None = None,
    budget: float | None = None,
    hidden: bool = False,
) -> None:
    """Run the tests of one exercise, print a pass/fail line per test, and raise if any failed.

    Parameters
    ----------
    exercise
        Short name of the exercise, shown in every line (e.g. ``"window"``).
    *tests
        Functions without arguments. A test fails when it raises or returns ``False``. Its description
        is the first docstring line (or its name without ``test_``); a docstring line starting with
        ``Hint:`` is shown when it fails.
    hints
        Optional ``{test function name: hint}``, overriding docstring hints.
    budget
        Seconds for all tests together (default 20, scaled by ``MEDIMG_CHECK_BUDGET_SCALE``). A test
        still running when the budget ends is stopped and failed; later tests are not run.
    hidden
        Grading-only tests: print counts but no test names, reasons or hints, silence the answer's
        output, and fail with a generic message.

    Returns
    -------
    None
        Always ``None`` on success, so nbgrader gives the cell its full points.

    Raises
    ------
    CheckFailed
        If any test failed (an ``AssertionError``, so nbgrader scores the cell 0).

    Examples
    --------
    >>> def test_adds():
    ...     '''2 + 2 is 4. Hint: use +'''
    ...     assert 2 + 2 == 4
    >>> check("addition", test_adds)  # doctest: +SKIP
    \u2714 addition: 2 + 2 is 4
    addition: all 1 visible test passed.
    """
    if not tests:
        raise ConfigError(f"check({exercise!r}) needs at least one test function: pass them as "
                          "check(name, test_a, test_b)")
    for t in tests:
        if not callable(t):
            raise ArgumentTypeError(f"check({exercise!r}): {t!r} is not a test function: pass the functions, not "
                                    "their results (test_a, not test_a())")
    total_budget = (DEFAULT_BUDGET_S if budget is None else float(budget)) * _budget_scale()
    outcomes = _run_tests(tests, hints, total_budget, hidden)
    n_fail = sum(not o.passed for o in outcomes)
    n = len(outcomes)
    kind = "hidden" if hidden else "visible"
    lines: list[str] = []
    if hidden:
        lines.append(f"{exercise}: {n - n_fail} of {n} hidden tests passed.")
        if _author_debug():
            lines += [f"    [author debug] {o.name}: {o.reason}" for o in outcomes if not o.passed]
    else:
        for o in outcomes:
            if o.passed:
                lines.append(f"{PASS_MARK} {exercise}: {o.name}")
            else:
                lines.append(f"{FAIL_MARK} {exercise}: {o.name}\n    why:  {o.reason}")
                if o.hint:
                    lines.append(f"    hint: {o.hint}")
        if n_fail == 0:
            lines.append(f"{exercise}: all {n} visible test{'s' if n != 1 else ''} passed.")
        else:
            lines.append(
                f"{exercise}: {n_fail} of {n} visible tests failed; fix your answer and run "
                "its cell, then this one again."
            )
    print("\n".join(lines), flush=True)
    if n_fail:
        if hidden:
            raise CheckFailed(f"{exercise}: {n_fail} of {n} hidden tests failed (details are not shown)")
        raise CheckFailed(f"{exercise}: {n_fail} of {n} {kind} tests failed (see the lines above)")
    return None
