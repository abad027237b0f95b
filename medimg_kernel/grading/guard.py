"""The grading guard: an IPython extension that keeps a submission's code from faking its test results.

The sandboxed autograder (:mod:`.sandbox`) loads it into the grading kernel before any notebook cell
runs. It reads, from a file that it deletes at once, a per-run secret and the hashes of the
instructor's test cells, then:

- **before every cell** puts back what a solution cell may have replaced: functions and classes of
  ``numpy``, ``torch``, ``builtins``, ``sys``, ``os``, ``signal`` and every ``medimg_kernel`` module
  (so ``mk.check = ...`` or ``np.allclose = lambda *a: True`` are undone), user names bound to those
  modules (``mk``, ``np``), signal handlers, ``sys`` hooks and streams, and IPython's exception,
  transformer and execution hooks;
- **after every test cell** checks that the cell itself (the student's functions it called) changed
  none of that, and stamps the cell's outcome with an HMAC of the secret. The grader
  (:class:`.secure_execute.SandboxedExecute`) accepts a test cell only with a valid "passed" stamp, so
  a kernel whose guard was removed or bypassed scores zero on every test.

It raises the bar; it is not a proof against a determined attacker inside the same process (see the
threat model in ``assignments/README.md``). The sandbox bounds what such code can reach.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import json
import os
import signal
import sys
import types
from typing import Any

MIME = "application/vnd.medimg.guard+json"
ROLES_ENV = "MEDIMG_GUARD_FILE"

# modules whose callables the tests rely on; every loaded medimg_kernel.* module is added
_PROTECTED = ("builtins", "sys", "os", "signal", "numpy", "numpy.testing", "numpy.linalg", "torch",
              "torch.testing", "torch.nn.functional", "math")
_SIGNALS = tuple(s for s in (getattr(signal, n, None) for n in ("SIGALRM", "SIGVTALRM", "SIGPROF", "SIGTERM",
                                                             "SIGINT", "SIGXCPU")) if s is not None)
_SHELL_METHODS = ("run_cell", "run_cell_async", "run_ast_nodes", "run_code", "showtraceback", "_showtraceback",
                  "showsyntaxerror", "transform_cell", "transform_ast", "should_run_async", "set_custom_exc")
_KERNEL_METHODS = ("do_execute", "execute_request", "send_response", "_publish_execute_input",
                   "_publish_status", "finish_metadata")
_SYS_HOOKS = ("excepthook", "displayhook", "stdout", "stderr", "exit", "settrace", "setprofile")


def _hash(source: str) -> str:
    return hashlib.sha256(source.strip().encode("utf-8")).hexdigest()


def stamp_mac(secret: bytes, cell: str, ok: bool) -> str:
    """The HMAC a stamp carries for ``cell`` (its source hash) and outcome ``ok``."""
    return hmac.new(secret, f"{cell}|{int(ok)}".encode(), hashlib.sha256).hexdigest()


_LIBRARY_DIRS = tuple({os.path.realpath(p) + os.sep for p in (sys.prefix, sys.base_prefix)})


def _library_wrapper(old: Any, new: Any) -> bool:
    """A library's own wrapper around the same function (torch wraps ``torch.manual_seed`` when its
    compiler first loads): restored, but not counted as tampering. Code written in a notebook cell
    never qualifies."""
    import inspect

    try:
        if new is None or inspect.unwrap(new) is not inspect.unwrap(old):
            return False
    except ValueError:
        return False
    code = getattr(new, "__code__", None)
    path = os.path.realpath(getattr(code, "co_filename", "") or "") if code is not None else ""
    return bool(path) and path.startswith(_LIBRARY_DIRS)


def _callable_entries(mod: types.ModuleType) -> dict[str, Any]:
    return {k: v for k, v in vars(mod).items()
            if (callable(v) or isinstance(v, types.ModuleType)) and not k.startswith("__")}


class _Guard:
    def __init__(self, ip: Any, secret: bytes, tests: set[str], locked: set[str]) -> None:
        self.ip, self.secret, self.tests, self.locked = ip, secret, tests, locked | tests
        self._ns_before: dict[str, int] = {}
        self.modules: dict[str, dict[str, Any]] = {}
        self.signals = {s: signal.getsignal(s) for s in _SIGNALS}
        self.sys_hooks = {k: getattr(sys, k) for k in _SYS_HOOKS if hasattr(sys, k)}
        self.shell_lists = {k: list(getattr(ip, k, []) or []) for k in ("ast_transformers", "input_transformers_post")}
        self.shell_overrides = {k: ip.__dict__[k] for k in _SHELL_METHODS if k in ip.__dict__}
        kernel = getattr(ip, "kernel", None)
        self.kernel_overrides = {k: kernel.__dict__[k] for k in _KERNEL_METHODS if kernel and k in kernel.__dict__}
        self.user_bindings: dict[str, Any] = {}
        self.current: str | None = None
        self._snapshot_new_modules()

    # -- state ---------------------------------------------------------------------------------------
    def _snapshot_new_modules(self) -> None:
        for name in [*_PROTECTED, *(m for m in list(sys.modules) if m.split(".")[0] == "medimg_kernel")]:
            mod = sys.modules.get(name)
            if isinstance(mod, types.ModuleType) and name not in self.modules:
                self.modules[name] = _callable_entries(mod)
        for name, value in list(self.ip.user_ns.items()):
            if name.startswith("_") or name in self.user_bindings:
                continue
            if isinstance(value, types.ModuleType) and value.__name__.split(".")[0] in {"numpy", "torch",
                                                                                         "medimg_kernel"}:
                self.user_bindings[name] = value

    def _restore(self) -> list[str]:
        """Put every protected object back; return what had been changed."""
        changed: list[str] = []
        for name, entries in self.modules.items():
            mod = sys.modules.get(name)
            if mod is None:
                continue
            d = vars(mod)
            for k, v in entries.items():
                if d.get(k) is not v:
                    benign = _library_wrapper(v, d.get(k))
                    try:
                        setattr(mod, k, v)
                    except (AttributeError, TypeError):
                        d[k] = v
                    if not benign:
                        changed.append(f"{name}.{k}")
        changed += self._restore_lazy_exports()
        if sys.modules.get("medimg_kernel") is not None:
            for name in list(self.modules):
                if name.startswith("medimg_kernel") and sys.modules.get(name) is None:
                    changed.append(f"sys.modules[{name!r}]")
        for s, h in self.signals.items():
            if signal.getsignal(s) is not h and h is not None:
                try:
                    signal.signal(s, h)
                except (OSError, ValueError, TypeError):
                    pass
                changed.append(f"signal handler {signal.Signals(s).name}")
        for k, v in self.sys_hooks.items():
            if getattr(sys, k, None) is not v:
                setattr(sys, k, v)
                changed.append(f"sys.{k}")
        for k, saved in self.shell_lists.items():
            cur = getattr(self.ip, k, None)
            if cur is not None and list(cur) != saved:
                cur[:] = saved
                changed.append(f"IPython {k}")
        if getattr(self.ip, "custom_exceptions", ()) != ():
            self.ip.custom_exceptions = ()
            changed.append("IPython custom exception handler")
        for k in _SHELL_METHODS:
            if self.ip.__dict__.get(k) is not self.shell_overrides.get(k):
                if k in self.shell_overrides:
                    self.ip.__dict__[k] = self.shell_overrides[k]
                else:
                    self.ip.__dict__.pop(k, None)
                changed.append(f"IPython shell.{k}")
        kernel = getattr(self.ip, "kernel", None)
        if kernel is not None:
            for k in _KERNEL_METHODS:
                if kernel.__dict__.get(k) is not self.kernel_overrides.get(k):
                    if k in self.kernel_overrides:
                        kernel.__dict__[k] = self.kernel_overrides[k]
                    else:
                        kernel.__dict__.pop(k, None)
                    changed.append(f"kernel.{k}")
        for name, value in self.user_bindings.items():
            if self.ip.user_ns.get(name) is not value:
                self.ip.user_ns[name] = value
                changed.append(f"the name {name!r}")
        for k in ("MEDIMG_CHECK_BUDGET_SCALE", "MEDIMG_AUTHOR_DEBUG"):
            if os.environ.pop(k, None) is not None:
                changed.append(f"${k}")
        return changed

    @staticmethod
    def _restore_lazy_exports() -> list[str]:
        """``mk.<name>`` is resolved lazily: a value set by hand that is not the real export is undone."""
        changed: list[str] = []
        mk = sys.modules.get("medimg_kernel")
        exports = getattr(mk, "_EXPORTS", None)
        if mk is None or not isinstance(exports, dict):
            return changed
        d = vars(mk)
        for name, target in exports.items():
            if name not in d:
                continue
            modname, _, attr = str(target).partition(":")
            real_mod = sys.modules.get(f"medimg_kernel.{modname}" if modname else "medimg_kernel")
            real = (getattr(real_mod, attr, None) if attr else real_mod) if real_mod is not None else None
            if d[name] is not real:
                if real is None:
                    del d[name]  # never resolved: the next access goes through the package's __getattr__
                else:
                    d[name] = real
                changed.append(f"medimg_kernel.{name}")
        return changed

    # -- IPython events ------------------------------------------------------------------------------
    def pre_run_cell(self, info: Any) -> None:
        self._restore()
        self._snapshot_new_modules()
        self.current = _hash(getattr(info, "raw_cell", "") or "")
        if self.current in self.locked:
            self._ns_before = {k: id(v) for k, v in self.ip.user_ns.items()}

    def post_run_cell(self, result: Any) -> None:
        cell, self.current = self.current, None
        changed = self._restore()
        self._snapshot_new_modules()
        if cell in self.locked:
            # what the instructor's cells define (setup helpers, data makers) is protected from then on
            for k, v in self.ip.user_ns.items():
                if not k.startswith("_") and (callable(v) or isinstance(v, types.ModuleType)) \
                        and self._ns_before.get(k) != id(v):
                    self.user_bindings[k] = v
        if cell not in self.tests:
            return
        failed = bool(getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None))
        ok = not failed and not changed
        reason = "" if ok else ("tests failed" if failed else
                                "the code under test changed " + ", ".join(sorted(set(changed))[:5]))
        if changed:
            sys.__stderr__.write(f"medimg grading guard: {reason}\n")
            sys.stderr.write(f"medimg grading guard: {reason}; this test cell does not count\n")
        from IPython.display import publish_display_data

        publish_display_data({MIME: {"cell": cell, "ok": ok, "reason": reason,
                                     "mac": stamp_mac(self.secret, cell, ok)}})


def load_ipython_extension(ip: Any) -> None:
    """Install the guard (only when the sandboxed grader passed its secret; otherwise do nothing)."""
    path = os.environ.pop(ROLES_ENV, "")
    if not path or not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as fh:
        spec = json.load(fh)
    os.unlink(path)  # the secret must not stay readable by the code being graded
    # the protected modules are imported now, before any cell can replace what they hold
    import numpy  # noqa: F401
    import numpy.testing  # noqa: F401

    import medimg_kernel  # noqa: F401
    import medimg_kernel.grading.check  # noqa: F401

    guard = _Guard(ip, bytes.fromhex(spec["secret"]), set(spec["tests"]), set(spec.get("locked", [])))
    ip.events.register("pre_run_cell", guard.pre_run_cell)
    ip.events.register("post_run_cell", guard.post_run_cell)
    builtins.__dict__.pop("_medimg_guard", None)
