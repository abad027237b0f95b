"""nbgrader's Execute step, sandboxed and guarded: what ``medimg grade autograde`` runs submissions with.

:class:`SandboxedExecute` replaces nbgrader's ``Execute`` in the autograde pipeline. For each notebook
it draws a fresh secret, starts the kernel in the sandbox (:mod:`.sandbox`) with the grading guard
(:mod:`.guard`) told which cells are the instructor's, and afterwards accepts a test cell only if the
guard stamped it "passed" with that secret. Anything else — a failed test, a test cell that changed
what the tests rely on, or a kernel whose guard was removed — leaves an error in the cell, which
nbgrader scores 0. The stamps are removed so feedback never shows them.

:func:`configure_autograde` wires it into an nbgrader config; where no sandbox can be had it refuses
to grade unless ``MEDIMG_GRADE_UNSAFE=1`` (``medimg grade autograde --unsafe``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from typing import Any

from nbformat import NotebookNode
from nbgrader.preprocessors import Execute

from .guard import MIME, stamp_mac
from .sandbox import SandboxedKernelManager, sandbox_available

__all__ = ["SandboxedExecute", "configure_autograde", "UNSAFE_ENV"]

UNSAFE_ENV = "MEDIMG_GRADE_UNSAFE"


def _hash(source: str) -> str:
    return hashlib.sha256(source.strip().encode("utf-8")).hexdigest()


def _nbg(cell: Any) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _is_test_cell(cell: Any) -> bool:
    m = _nbg(cell)
    return cell.cell_type == "code" and bool(m.get("grade")) and not m.get("solution")


class SandboxedExecute(Execute):
    """nbgrader's Execute, with the kernel in a sandbox and every test cell's result guarded."""

    def preprocess(self, nb: NotebookNode, resources: dict, retries: int | None = None):  # type: ignore[override]
        secret = secrets.token_bytes(32)
        tests = [_hash(c.source) for c in nb.cells if _is_test_cell(c)]
        locked = [_hash(c.source) for c in nb.cells
                  if c.cell_type == "code" and _nbg(c).get("locked") and not _nbg(c).get("solution")]
        fd, guard_file = tempfile.mkstemp(prefix="medimg-guard-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"secret": secret.hex(), "tests": tests, "locked": locked}, fh)

        class _KernelManager(SandboxedKernelManager):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, guard_file=guard_file, **kwargs)

        self.kernel_manager_class = _KernelManager
        try:
            nb, resources = super().preprocess(nb, resources, retries)
        finally:
            os.unlink(guard_file)
        verdicts = self._verify(nb, secret)
        resources.setdefault("medimg", {})["guard"] = verdicts
        return nb, resources

    def _verify(self, nb: NotebookNode, secret: bytes) -> dict[str, str]:
        """Keep each test cell's result only with a valid "passed" stamp; strip all stamps."""
        verdicts: dict[str, str] = {}
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            stamps = [o for o in cell.get("outputs", []) if o.get("output_type") == "display_data"
                      and MIME in o.get("data", {})]
            cell.outputs = [o for o in cell.outputs if o not in stamps]
            if not _is_test_cell(cell):
                continue
            want = _hash(cell.source)
            ok, reason = False, "the grading guard did not see this test cell run (was it bypassed?)"
            for o in stamps:
                st = o["data"][MIME]
                good = (st.get("cell") == want
                        and hmac.compare_digest(str(st.get("mac", "")), stamp_mac(secret, want, bool(st.get("ok")))))
                if good:
                    ok, reason = bool(st.get("ok")), str(st.get("reason") or "")
                    break
            gid = _nbg(cell).get("grade_id", "?")
            verdicts[gid] = "ok" if ok else reason
            has_error = any(o.get("output_type") == "error" for o in cell.outputs)
            if not ok and not has_error:
                cell.outputs.append(NotebookNode(
                    output_type="error", ename="GradingGuardError", evalue=reason,
                    traceback=[f"GradingGuardError: {reason}"]))
        return verdicts


def configure_autograde(c: Any) -> str:
    """Use :class:`SandboxedExecute` for ``nbgrader autograde`` in config ``c``; return the mode chosen.

    Raises SystemExit with a one-line reason when no sandbox is available and unsafe grading was not
    asked for explicitly.
    """
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )

    if os.environ.get(UNSAFE_ENV) == "1":
        return "unsafe"
    if not sandbox_available():
        raise SystemExit("medimg: error: no sandbox for untrusted code on this machine (bubblewrap is "
                         "missing or cannot create namespaces): install it (apt-get install bubblewrap), or "
                         "grade without isolation on purpose with `medimg grade autograde --unsafe`")
    c.Autograde.autograde_preprocessors = [SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor,
                                          LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
    return "sandboxed"
