"""Progress reports: one HTML + PDF page per student, and a class summary with plots.

A student's report shows the score per assignment and per learning objective, what is missing, late
days used and the pass/fail decision with its reasons. The class summary shows the distribution of
totals, each assignment's spread and the hardest exercises.
"""

from __future__ import annotations

import base64
import html
import io
import re
from pathlib import Path
from typing import Any

from .policy import CoursePolicy
from .records import StudentRecord

__all__ = ["write_reports", "write_student_report", "write_class_summary"]

_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f0f4f8}.pass{color:#1a7f37;font-weight:bold}.fail{color:#b3261e;font-weight:bold}
.bar{background:#1f4e79;height:.8em;display:inline-block}.missing{color:#b3261e}"""


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "student"


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _student_html(rec: StudentRecord, policy: CoursePolicy) -> str:
    status = '<span class="pass">PASS</span>' if rec.passed else '<span class="fail">NOT YET PASSED</span>'
    rows = []
    for a, r in rec.results.items():
        ap = policy.assignments[a]
        late = f"{r.days_late} ({r.free_days_used} free)" if r.days_late else "—"
        cls = ' class="missing"' if r.status == "no submission" else ""
        rows.append(
            f"<tr{cls}><td>{html.escape(a)}{' *' if ap.required else ''}</td><td>{ap.weight:g}</td>"
            f"<td>{r.score:.1f} / {r.max:.1f}</td><td>{r.percent:.0f}%</td><td>{html.escape(r.status)}</td>"
            f"<td>{late}</td></tr>"
        )
    objs = "".join(
        f"<tr><td>{html.escape(o)}</td><td><span class='bar' style='width:{p * 2:.0f}px'></span> {p:.0f}%</td></tr>"
        for o, p in rec.objectives.items()
    ) or "<tr><td colspan=2>no objectives mapped in course.yaml</td></tr>"
    reasons = "".join(f"<li>{html.escape(x)}</li>" for x in rec.reasons) or "<li>all requirements met</li>"
    missing = ", ".join(rec.missing()) or "nothing"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Progress: {html.escape(rec.name)} — {html.escape(policy.title)}</title><style>{_CSS}</style></head><body>
<h1>{html.escape(policy.title)}: progress report</h1>
<p><b>{html.escape(rec.name)}</b> ({html.escape(rec.student_id)}) — weighted total
<b>{rec.total_percent:.1f}%</b> (pass mark {policy.pass_mark:.0f}%): {status}</p>
<h2>Assignments</h2><table><tr><th>assignment (* required)</th><th>weight</th><th>score</th><th>%</th>
<th>status</th><th>days late</th></tr>{''.join(rows)}</table>
<h2>Learning objectives</h2><table><tr><th>objective</th><th>mastery</th></tr>{objs}</table>
<h2>Status</h2><ul>{reasons}</ul><p>Missing: {html.escape(missing)}</p></body></html>"""


def _student_pdf(rec: StudentRecord, policy: CoursePolicy, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(8.27, 11.69))
    fig.text(0.08, 0.95, f"{policy.title}: progress report", fontsize=16, weight="bold")
    fig.text(0.08, 0.92, f"{rec.name} ({rec.student_id})   total {rec.total_percent:.1f}% "
             f"(pass mark {policy.pass_mark:.0f}%)   {'PASS' if rec.passed else 'NOT YET PASSED'}", fontsize=11)
    ax = fig.add_axes((0.3, 0.55, 0.62, 0.33))
    names = list(rec.results)
    vals = [rec.results[a].percent for a in names]
    colors = ["#b3261e" if rec.results[a].status == "no submission" else "#1f4e79" for a in names]
    ax.barh(names[::-1], vals[::-1], color=colors[::-1])
    ax.axvline(policy.pass_mark, color="#888", ls="--", lw=1)
    ax.set_xlim(0, 100)
    ax.set_xlabel("score (%) — red: no submission")
    ax.tick_params(labelsize=8)
    if rec.objectives:
        ax2 = fig.add_axes((0.3, 0.2, 0.62, 0.28))
        onames = list(rec.objectives)
        ax2.barh(onames[::-1], [rec.objectives[o] for o in onames][::-1], color="#2e7d32")
        ax2.set_xlim(0, 100)
        ax2.set_xlabel("mastery per learning objective (%)")
        ax2.tick_params(labelsize=7)
    y = 0.14
    for line in (rec.reasons or ["all requirements met"])[:5]:
        fig.text(0.08, y, f"• {line}", fontsize=9)
        y -= 0.02
    fig.savefig(path, format="pdf")
    plt.close(fig)


def write_student_report(rec: StudentRecord, policy: CoursePolicy, out_dir: Path, pdf: bool = True) -> Path:
    """Write ``<student>.html`` (and ``.pdf``) into ``out_dir`` and return the HTML path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / f"{_safe(rec.student_id)}.html"
    page.write_text(_student_html(rec, policy), encoding="utf-8")
    if pdf:
        _student_pdf(rec, policy, page.with_suffix(".pdf"))
    return page


def hardest_exercises(records: list[StudentRecord], top: int = 8) -> list[tuple[str, float, int]]:
    """Exercises with the lowest mean score fraction among submissions: ``(assignment/exercise, mean, n)``."""
    sums: dict[str, list[float]] = {}
    for rec in records:
        for a, r in rec.results.items():
            if r.status == "no submission":
                continue
            for ex, (got, mx) in r.exercises.items():
                if mx > 0:
                    sums.setdefault(f"{a}/{ex}", []).append(got / mx)
    rows = [(k, sum(v) / len(v), len(v)) for k, v in sums.items()]
    return sorted(rows, key=lambda t: (t[1], t[0]))[:top]


def write_class_summary(records: list[StudentRecord], policy: CoursePolicy, out_dir: Path) -> Path:
    """Write ``class_summary.html`` with the totals' distribution, per-assignment spread and hardest exercises."""
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    totals = [r.total_percent for r in records]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    axes[0].hist(totals, bins=range(0, 105, 5), color="#1f4e79")
    axes[0].axvline(policy.pass_mark, color="#b3261e", ls="--", label=f"pass mark {policy.pass_mark:.0f}%")
    axes[0].set_xlabel("weighted total (%)")
    axes[0].set_ylabel("students")
    axes[0].legend()
    names = list(policy.assignments)
    data = [[r.results[a].percent for r in records if r.results[a].status != "no submission"] or [0.0]
            for a in names]
    axes[1].boxplot(data, vert=False, tick_labels=names)
    axes[1].set_xlabel("score (%) among submissions")
    axes[1].tick_params(labelsize=7)
    fig.tight_layout()
    dist = _png(fig)
    plt.close(fig)
    hard = hardest_exercises(records)
    fig, ax = plt.subplots(figsize=(8, 0.4 * max(3, len(hard)) + 1))
    ax.barh([h[0] for h in hard][::-1], [100 * h[1] for h in hard][::-1], color="#b3261e")
    ax.set_xlim(0, 100)
    ax.set_xlabel("mean score (%) — the hardest exercises")
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    hard_png = _png(fig)
    plt.close(fig)
    n = len(records)
    passed = sum(r.passed for r in records)
    subs = "".join(
        f"<tr><td>{html.escape(a)}</td><td>{sum(r.results[a].status != 'no submission' for r in records)}"
        f" / {n}</td></tr>" for a in names
    )
    rows = "".join(
        f"<tr><td><a href='{_safe(r.student_id)}.html'>{html.escape(r.student_id)}</a></td>"
        f"<td>{html.escape(r.name)}</td><td>{r.total_percent:.1f}%</td>"
        f"<td class='{'pass' if r.passed else 'fail'}'>{'pass' if r.passed else 'not yet'}</td>"
        f"<td>{len(r.missing())}</td></tr>" for r in records
    )
    page = out_dir / "class_summary.html"
    page.write_text(f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Class summary — {html.escape(policy.title)}</title><style>{_CSS}</style></head><body>
<h1>{html.escape(policy.title)}: class summary</h1>
<p>{n} students, {passed} passed ({100 * passed / max(n, 1):.0f}%), pass mark {policy.pass_mark:.0f}%.</p>
<img alt="distribution of totals and per-assignment scores" src="data:image/png;base64,{dist}">
<h2>Hardest exercises</h2><img alt="hardest exercises" src="data:image/png;base64,{hard_png}">
<h2>Submissions</h2><table><tr><th>assignment</th><th>submitted</th></tr>{subs}</table>
<h2>Students</h2><table><tr><th>id</th><th>name</th><th>total</th><th>status</th><th>missing</th></tr>
{rows}</table></body></html>""", encoding="utf-8")
    return page


def write_reports(records: list[StudentRecord], policy: CoursePolicy, out_dir: str | Path,
                  pdf: bool = True) -> list[Path]:
    """Write every student's report and the class summary; return all HTML paths written."""
    from tqdm.auto import tqdm

    out = Path(out_dir)
    paths = [write_student_report(r, policy, out, pdf=pdf)
             for r in tqdm(records, desc="progress reports", unit="student", disable=len(records) < 20)]
    paths.append(write_class_summary(records, policy, out))
    return paths
