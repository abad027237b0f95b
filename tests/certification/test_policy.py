"""course.yaml: a valid policy parses; every malformed key gets a one-line error naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from medimg_kernel.certification.policy import LatePolicy, load_policy, parse_policy
from medimg_kernel.errors import ConfigError

COURSE = Path(__file__).resolve().parents[2] / "assignments"

GOOD = {
    "course": {"id": "c1", "title": "Course", "instructor": "T"},
    "pass_mark": 60,
    "late": {"free_days": 2, "penalty_per_day": 10, "max_days": 5},
    "assignments": {"a1": {"weight": 2, "required": True, "due": "2027-01-10"}, "a2": {"weight": 1}},
}


def test_shipped_policy_matches_the_course():
    from medimg_kernel.grading.course_folder import assignments

    policy = load_policy(COURSE, known=assignments(COURSE))
    assert policy.pass_mark == 60
    assert set(policy.required()) <= set(policy.assignments)
    assert policy.total_weight > 0


def test_parse_good():
    p = parse_policy(GOOD)
    assert p.total_weight == 3
    assert p.required() == ["a1"]
    assert p.assignments["a1"].due.isoformat().startswith("2027-01-10T23:59:59")


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda d: d.pop("pass_mark"), "pass_mark"),
        (lambda d: d.update(pass_mark=120), "pass_mark"),
        (lambda d: d.update(passmark=50), "passmark"),
        (lambda d: d["assignments"]["a1"].update(weight="heavy"), "assignments.a1.weight"),
        (lambda d: d["assignments"]["a1"].update(due="next week"), "assignments.a1.due"),
        (lambda d: d["assignments"]["a1"].update(required="yes"), "assignments.a1.required"),
        (lambda d: d["late"].update(grace=1), "late.grace"),
        (lambda d: d.update(course={"title": "no id"}), "course"),
        (lambda d: d.update(assignments={}), "assignments"),
    ],
)
def test_errors_name_the_key(mutate, key):
    import copy

    data = copy.deepcopy(GOOD)
    mutate(data)
    with pytest.raises(ConfigError) as err:
        parse_policy(data)
    msg = str(err.value)
    assert f"'{key}'" in msg and "\n" not in msg


def test_unknown_assignment_and_bad_yaml(tmp_path):
    (tmp_path / "course.yaml").write_text(yaml.safe_dump(GOOD))
    with pytest.raises(ConfigError, match="'assignments.a2'.*known: a1"):
        load_policy(tmp_path, known=["a1"])
    (tmp_path / "course.yaml").write_text("course: {id: x\npass_mark: 5\n")
    with pytest.raises(ConfigError, match="line"):
        load_policy(tmp_path)
    with pytest.raises(ConfigError, match="no course policy"):
        load_policy(tmp_path / "missing")


def test_late_policy_pool():
    late = LatePolicy(free_days=3, penalty_per_day=10, max_days=7)
    assert late.penalty(0, 3) == (1.0, 0)
    assert late.penalty(2, 3) == (1.0, 2)          # covered by free days
    f, used = late.penalty(4, 1)                   # 1 free, 3 charged
    assert used == 1 and f == pytest.approx(0.7)
    assert late.penalty(8, 3) == (0.0, 0)          # past max_days
