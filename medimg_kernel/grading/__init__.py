"""Grading: the student self-check ``mk.check`` and the nbgrader course tooling.

- :mod:`.check` — :func:`check`, run one exercise's tests with friendly output and a time budget.
- :mod:`.authoring` — parse the reviewable percent-script form of an assignment.
- :mod:`.builder` — generate nbgrader source notebooks (schema 3 metadata) and verify they are in sync.
- :mod:`.course` — find the course folder and its assignments.
- :mod:`.pipeline` — thin wrappers around the nbgrader CLI (CPU forced, optional parallel autograde).
- :mod:`.fixtures` — generate simulated student submissions from a source notebook (tests, benchmark).

Only :mod:`.check` is imported by ``import medimg_kernel``; it needs neither nbgrader nor torch.
"""

from __future__ import annotations

from .check import CheckFailed, check

__all__ = ["check", "CheckFailed"]
