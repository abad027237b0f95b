"""Local similarity check of students' solution code (no upload), robust to renaming and reformatting.

Each submission's solution cells are tokenised with :mod:`tokenize`; comments, docstrings, layout and
the names a student chose are dropped (every local name becomes ``V``, every string ``S``), while
keywords, operators, numbers and library attributes (``np.clip``) are kept. Every top-level statement
is fingerprinted separately as a set of hashed token k-grams, so reordering functions changes nothing.
Fingerprints that also occur in the release (the starter code) are excluded, and so are those that more
than half of the class shares (the idiom everyone writes). Pairs are ranked by the Jaccard index of
what is left; the report shows each flagged pair side by side with the matching lines highlighted.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import html
import io
import keyword
import tokenize
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from ..errors import MedimgKernelError

__all__ = ["Submission", "PairScore", "fingerprints", "compare_submissions", "load_submissions",
           "write_similarity_report", "DEFAULT_THRESHOLD", "K"]

K = 7  # tokens per fingerprint
DEFAULT_THRESHOLD = 0.6
_BUILTINS = set(dir(builtins))


class SimilarityError(MedimgKernelError, RuntimeError):
    """Submissions for a similarity check are missing or unreadable."""


@dataclass
class Submission:
    """One student's solution code for an assignment and its fingerprints (hash -> source lines)."""

    student: str
    code: str
    prints: dict[int, set[int]] = field(default_factory=dict)


@dataclass
class PairScore:
    """The similarity of two students' solutions."""

    a: str
    b: str
    score: float
    shared: int
    flagged: bool


def _docstring_lines(code: str) -> set[int]:
    """Lines covered by docstrings (a string that is the first statement of a module/def/class)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    lines: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            lines.update(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
    return lines


def _normalise(code: str) -> list[tuple[str, int]]:
    """Tokens of ``code`` as ``(normalised text, line)``; names become V unless they are attributes/builtins."""
    out: list[tuple[str, int]] = []
    skip = _docstring_lines(code)
    prev = ""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return out
    for tok in toks:
        kind, text, line = tok.type, tok.string, tok.start[0]
        if kind in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                    tokenize.ENCODING, tokenize.ENDMARKER):
            continue
        if kind == tokenize.STRING:
            if line in skip:
                continue
            out.append(("S", line))
        elif kind == tokenize.NAME and not (keyword.iskeyword(text) or text in _BUILTINS or prev == "."):
            out.append(("V", line))
        else:
            out.append((text, line))
        prev = text
    return out


def _statements(code: str) -> list[tuple[str, int]]:
    """Top-level statements of ``code`` with their first line (falls back to the whole text)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return [(code, 1)]
    lines = code.splitlines()
    out = []
    for node in tree.body:
        end = getattr(node, "end_lineno", node.lineno)
        out.append(("\n".join(lines[node.lineno - 1:end]), node.lineno))
    return out


def fingerprints(code: str, k: int = K) -> dict[int, set[int]]:
    """Hashed k-grams of the normalised tokens of each top-level statement, with the lines they cover."""
    out: dict[int, set[int]] = {}
    for stmt, first in _statements(code):
        toks = _normalise(stmt)
        if len(toks) < k:
            grams = [toks] if toks else []
        else:
            grams = [toks[i:i + k] for i in range(len(toks) - k + 1)]
        for g in grams:
            h = int.from_bytes(hashlib.blake2b(" ".join(t for t, _ in g).encode(), digest_size=8).digest(), "big")
            out.setdefault(h, set()).update(first - 1 + ln for _, ln in g)
    return out


def compare_submissions(subs: list[Submission], starter: str = "", threshold: float = DEFAULT_THRESHOLD,
                        common_fraction: float = 0.5) -> list[PairScore]:
    """Score every pair of submissions and return them ranked, most similar first."""
    starter_prints = set(fingerprints(starter)) if starter else set()
    for s in subs:
        if not s.prints:
            s.prints = fingerprints(s.code)
    counts: dict[int, int] = {}
    for s in subs:
        for h in s.prints:
            counts[h] = counts.get(h, 0) + 1
    limit = max(2, int(common_fraction * len(subs)))
    common = {h for h, c in counts.items() if c > limit} if len(subs) >= 4 else set()
    keep = {s.student: set(s.prints) - starter_prints - common for s in subs}
    scores = []
    for x, y in combinations(subs, 2):
        a, b = keep[x.student], keep[y.student]
        union = len(a | b)
        shared = len(a & b)
        j = shared / union if union else 0.0
        scores.append(PairScore(x.student, y.student, j, shared, j >= threshold))
    return sorted(scores, key=lambda p: (-p.score, p.a, p.b))


def solution_code(notebook: str | Path) -> str:
    """The code of a notebook's nbgrader solution cells, joined in order."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    return "\n\n".join(c.source for c in nb.cells
                       if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution"))


def load_submissions(course: str | Path, assignment: str) -> tuple[list[Submission], str]:
    """Read every student's solution cells of ``assignment`` from ``submitted/``, and the release's starter code."""
    course = Path(course)
    root = course / "submitted"
    subs = []
    for student_dir in sorted(p for p in root.glob("*") if p.is_dir()) if root.is_dir() else []:
        nbs = sorted((student_dir / assignment).glob("*.ipynb"))
        if not nbs:
            continue
        try:
            code = "\n\n".join(solution_code(nb) for nb in nbs)
        except Exception as err:  # a corrupt notebook must not stop the class report  # noqa: BLE001
            code = ""
            print(f"medimg: similarity: skipped {nbs[0]} ({type(err).__name__}: unreadable notebook)")
        subs.append(Submission(student_dir.name, code))
    if len(subs) < 2:
        raise SimilarityError(f"{len(subs)} submission(s) of {assignment!r} in {root}: need at least two "
                              "(collect them with `nbgrader zip_collect` or `collect` first)")
    starter = ""
    release = sorted((course / "release" / assignment).glob("*.ipynb"))
    if release:
        starter = "\n\n".join(solution_code(nb) for nb in release)
    return subs, starter


def _side(sub: Submission, lines: set[int]) -> str:
    rows = []
    for i, text in enumerate(sub.code.splitlines(), start=1):
        cls = ' class="hit"' if i in lines else ""
        rows.append(f"<div{cls}><span class='ln'>{i:>3}</span> {html.escape(text) or '&nbsp;'}</div>")
    return "".join(rows)


def write_similarity_report(subs: list[Submission], scores: list[PairScore], out: str | Path,
                            assignment: str, top: int = 20) -> Path:
    """Write a ranked HTML report with the flagged pairs side by side, matches highlighted."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    by = {s.student: s for s in subs}
    rows = "".join(
        f"<tr class='{'flag' if p.flagged else ''}'><td>{i}</td><td>{html.escape(p.a)}</td>"
        f"<td>{html.escape(p.b)}</td><td>{p.score:.2f}</td><td>{'FLAG' if p.flagged else ''}</td></tr>"
        for i, p in enumerate(scores[:100], start=1)
    )
    details = []
    for p in [s for s in scores if s.flagged][:top]:
        a, b = by[p.a], by[p.b]
        shared = set(a.prints) & set(b.prints)
        la = set().union(*(a.prints[h] for h in shared)) if shared else set()
        lb = set().union(*(b.prints[h] for h in shared)) if shared else set()
        details.append(
            f"<h3>{html.escape(p.a)} ↔ {html.escape(p.b)}: {p.score:.2f}</h3><div class='pair'>"
            f"<pre>{_side(a, la)}</pre><pre>{_side(b, lb)}</pre></div>"
        )
    flagged = sum(p.flagged for p in scores)
    out.write_text(f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Similarity: {html.escape(assignment)}</title><style>
body{{font-family:system-ui,sans-serif;margin:1.5em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2em .5em}}tr.flag{{background:#fde7e7}}
.pair{{display:grid;grid-template-columns:1fr 1fr;gap:1em}}pre{{background:#f7f7f7;padding:.5em;overflow:auto}}
.hit{{background:#ffe08a}}.ln{{color:#999}}</style></head><body>
<h1>Similarity of solution code: {html.escape(assignment)}</h1>
<p>{len(subs)} submissions, {len(scores)} pairs, {flagged} flagged. Computed locally from tokens with names,
layout and comments removed and the starter code excluded. A flag is a reason to look, not a verdict.</p>
<table><tr><th>#</th><th>student</th><th>student</th><th>similarity</th><th></th></tr>{rows}</table>
{''.join(details)}</body></html>""", encoding="utf-8")
    return out
