"""The JSON shapes the server extension sends (mirrored by ``widgets/labextension/src/api.ts``)."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

__all__ = ["NotebookStatus", "AssignmentInfo", "LessonInfo", "CourseIndex", "EnvStatus", "DatasetRow",
           "FetchJob", "SelfCheckResult"]

State = Literal["not_started", "opened", "run", "passed", "failed"]


class NotebookStatus(TypedDict):
    state: State
    score: float | None  # visible tests passed / total, when a self-check result is known
    passed: int | None
    total: int | None
    metrics: dict[str, float]  # recorded by the lesson (mk.record_metrics) in a course run
    evidence: str | None


class AssignmentInfo(TypedDict):
    name: str
    path: str
    status: NotebookStatus


class LessonInfo(TypedDict):
    number: str
    path: str
    title: str
    objectives: list[str]
    estimated_minutes: int | None
    tier: str | None
    budget_s: float | None
    status: NotebookStatus
    assignment: AssignmentInfo | None


class CourseIndex(TypedDict):
    root: str
    lessons_dir: str | None
    tier: str | None
    lessons: list[LessonInfo]
    welcome: str | None


class EnvStatus(TypedDict):
    device: str
    precision: str
    memory_format: str
    threads: int
    tier: str
    gpu: dict[str, Any] | None
    problems: list[str]
    report: str  # the full `medimg env` text


class DatasetRow(TypedDict):
    name: str
    title: str
    source: str
    modality: str
    task: str
    license: str
    size: int | None  # bytes the registry lists (remote datasets)
    on_disk: int  # bytes in the cache now
    cached: bool  # every file present (or nothing to download)
    verified: bool | None  # hash stamps valid; None when nothing is cached yet


class FetchJob(TypedDict):
    name: str
    state: Literal["idle", "running", "done", "error"]
    bytes_done: int
    bytes_total: int | None
    error: str | None
    seconds: float


class SelfCheckResult(TypedDict):
    passed: int
    failed: int
    total: int
    score: float
    seconds: float
    exercises: list[dict[str, Any]]
