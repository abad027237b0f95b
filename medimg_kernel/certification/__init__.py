"""Certification: the course gradebook, progress reports, LMS exports, signed certificates, similarity.

The data flows one way from nbgrader's gradebook: :mod:`.policy` reads ``course.yaml`` (weights, pass
mark, late days, required assignments, objectives); :mod:`.records` turns the gradebook into one record
per student; :mod:`.reports` and :mod:`.lms` write them out; :mod:`.certificates` issues certificates
signed with the instructor's Ed25519 key (:mod:`.signing`) that anyone can verify offline;
:mod:`.similarity` compares students' solution code locally. ``medimg grade report|certify|verify|
similarity`` are the commands.
"""

from __future__ import annotations

from .policy import CoursePolicy, load_policy
from .records import StudentRecord, course_records

__all__ = ["CoursePolicy", "StudentRecord", "course_records", "load_policy"]
