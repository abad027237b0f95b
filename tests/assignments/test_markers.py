"""The one reader/writer of nbgrader's region markers."""

from medimg_kernel.grading.markers import HIDDEN_TESTS, SOLUTION, has_begin, is_balanced, regions, strip, wrap


def test_regions_strip_and_wrap_round_trip():
    src = "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
    assert regions(src, SOLUTION) == ["    return 2 * x"]
    assert strip(src, SOLUTION) == "def f(x):\n    return 2 * x"
    hidden = wrap("assert f(2) == 4", HIDDEN_TESTS)
    assert hidden.splitlines()[0] == "### BEGIN HIDDEN TESTS" and regions(hidden, HIDDEN_TESTS) == ["assert f(2) == 4"]
    assert has_begin(src, SOLUTION) and not has_begin(src, HIDDEN_TESTS)


def test_balance_catches_unclosed_and_unopened_regions():
    assert is_balanced("a\n### BEGIN SOLUTION\nb\n### END SOLUTION\n### BEGIN SOLUTION\nc\n### END SOLUTION", SOLUTION)
    assert not is_balanced("### BEGIN SOLUTION\nb", SOLUTION)
    assert not is_balanced("### END SOLUTION\n### BEGIN SOLUTION", SOLUTION)
    assert not is_balanced("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", SOLUTION)
    assert is_balanced("no markers", HIDDEN_TESTS)
