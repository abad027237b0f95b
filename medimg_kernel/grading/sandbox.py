"""Run a grading kernel in a throw-away sandbox: its own mount, PID and network namespaces, with limits.

:class:`SandboxedKernelManager` starts the kernel under bubblewrap (``bwrap``, Debian's
``bubblewrap``) so the code being graded

- sees the system and the Python installation read-only, but **not** the course folder (source,
  release, other students' work, ``gradebook.db``), the instructor's home or ``/tmp``;
- works in a throw-away copy of its submission folder, mounted where nbgrader expects it;
- has no network (a new network namespace with only loopback);
- runs under CPU-time, file-size and memory rlimits set before it starts, which it cannot raise
  (bwrap drops every capability), and dies with all its processes when grading ends (new PID
  namespace, ``--die-with-parent``).

The kernel talks to nbgrader over Unix sockets in a private folder (ZeroMQ ``ipc`` transport), the
only folder the two share. ``python -m medimg_kernel.grading.sandbox --limits ... -- CMD`` is the small
launcher that sets the limits inside the sandbox and then becomes the kernel.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager

__all__ = ["SandboxedKernelManager", "bwrap_command", "sandbox_available", "Limits"]

GUARD_EXTENSION = "medimg_kernel.grading.guard"


class Limits:
    """Resource limits of one grading kernel (environment overrides: ``MEDIMG_GRADE_CPU_S`` etc.)."""

    def __init__(self) -> None:
        self.cpu_s = int(os.environ.get("MEDIMG_GRADE_CPU_S", "900"))
        self.fsize_mb = int(os.environ.get("MEDIMG_GRADE_FSIZE_MB", "512"))
        self.memory_mb = int(os.environ.get("MEDIMG_GRADE_MEMORY_MB", "16384"))

    def args(self) -> list[str]:
        """The launcher's arguments for these limits."""
        return [f"--cpu={self.cpu_s}", f"--fsize={self.fsize_mb}", f"--memory={self.memory_mb}"]


@functools.lru_cache(maxsize=1)
def sandbox_available() -> bool:
    """Whether bubblewrap can create a sandbox here (Linux with ``bwrap`` that works)."""
    exe = shutil.which("bwrap")
    if not exe or not sys.platform.startswith("linux"):
        return False
    try:
        probe = subprocess.run([exe, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                               capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def _python_paths() -> list[str]:
    """Folders the kernel needs to read: the interpreter, the venv and everything on sys.path."""
    paths = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    for p in sys.path:
        if p and os.path.exists(p):
            paths.add(os.path.realpath(p))
    import medimg_kernel

    paths.add(str(Path(medimg_kernel.__file__).resolve().parents[1]))
    # drop nested entries: binding a parent is enough
    out: list[str] = []
    for p in sorted(paths, key=len):
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out.append(p)
    return out


def bwrap_command(cmd: list[str], *, workdir: Path, work_copy: Path, share: Path, hide: list[Path],
                  limits: Limits) -> list[str]:
    """The bwrap command line that runs ``cmd`` sandboxed, with ``work_copy`` mounted at ``workdir``."""
    args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-all",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/dev/shm"]
    hidden = [Path("/tmp"), Path("/var/tmp"), Path.home(), Path("/home"), *hide]
    for h in hidden:
        if h.exists():
            args += ["--tmpfs", str(h)]
    for p in _python_paths():  # the interpreter and packages may live under a hidden folder
        if any(p == str(h) or p.startswith(str(h).rstrip("/") + "/") for h in hidden):
            args += ["--ro-bind", p, p]
    for h in hide:  # ... but the course folder stays hidden even inside a re-bound checkout
        if h.exists():
            args += ["--tmpfs", str(h)]
    args += ["--bind", str(share), str(share), "--bind", str(work_copy), str(workdir), "--chdir", str(workdir),
             "--dir", "/tmp/home", "--setenv", "HOME", "/tmp/home", "--setenv", "TMPDIR", "/tmp",
             "--setenv", "MPLCONFIGDIR", "/tmp/home/.mpl", "--setenv", "IPYTHONDIR", "/tmp/home/.ipython",
             # the kernel's parent is the namespace's init (pid 1): bwrap --die-with-parent ends it instead
             "--unsetenv", "JPY_PARENT_PID"]
    for h in hide:  # the course folder's empty stand-in is read-only: writes there fail loudly
        if h.exists():
            args += ["--remount-ro", str(h)]
    launcher = [sys.executable, "-m", "medimg_kernel.grading.sandbox", *limits.args(), "--"]
    return [*args, "--", *launcher, *cmd]


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts each kernel inside a bwrap sandbox (see the module docstring).

    ``guard_file`` (optional) is a JSON file the grading guard reads at start-up; ``hide`` lists extra
    folders to hide (the course folder is found from the submission's path).
    """

    def __init__(self, *args: Any, guard_file: str | None = None, hide: list[str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._share = Path(tempfile.mkdtemp(prefix="mg-", dir="/tmp"))
        self._guard_file = guard_file
        self._hide = [Path(h) for h in (hide or [])]
        self._cwd: Path | None = None
        self.transport = "ipc"
        self.ip = str(self._share / "k")
        self.connection_file = str(self._share / "kernel.json")

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        self._cwd = Path(kw.get("cwd") or os.getcwd()).resolve()
        return await super()._async_pre_start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """The kernel's own command, wrapped in the sandbox and with the grading guard loaded."""
        cmd = super().format_kernel_cmd(extra_arguments)
        if self._guard_file:
            guard_copy = self._share / "guard.json"
            shutil.copyfile(self._guard_file, guard_copy)
            os.chmod(guard_copy, 0o600)
            self._guard_env = {"MEDIMG_GUARD_FILE": str(guard_copy)}
            cmd = [*cmd, f"--ext={GUARD_EXTENSION}"]
        cwd = self._cwd or Path.cwd()
        work_copy = self._share / "work"
        if not work_copy.exists():
            # the notebook itself is not copied: its cells arrive as messages, and the file nbgrader
            # writes may hold the hidden tests
            shutil.copytree(cwd, work_copy, symlinks=True, ignore=shutil.ignore_patterns("*.ipynb"))
        hide = list(self._hide)
        parts = cwd.parts
        if "autograded" in parts:  # <course>/autograded/<student>/<assignment>
            hide.append(Path(*parts[: len(parts) - 1 - parts[::-1].index("autograded")]))
        return bwrap_command(cmd, workdir=cwd, work_copy=work_copy, share=self._share, hide=hide,
                             limits=Limits())

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        env = dict(kw.get("env") or os.environ)
        env.update(getattr(self, "_guard_env", None) or {})
        kw["env"] = env
        await super()._async_launch_kernel(kernel_cmd, **kw)

    async def _async_interrupt_kernel(self) -> None:
        # the kernel is a grandchild in another PID namespace: signal it by its host pid
        for pid in _descendants(getattr(self.provisioner, "pid", None)):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"ipykernel" in cmdline:
                os.kill(pid, signal.SIGINT)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self._share, ignore_errors=True)


def _descendants(pid: int | None) -> list[int]:
    if not pid:
        return []
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*") if Path(f"/proc/{p}/task").is_dir() else []:
            try:
                kids = [int(x) for x in (task / "children").read_text().split()]
            except OSError:
                continue
            out.extend(kids)
            todo.extend(kids)
    return out


def _launch(argv: list[str]) -> None:
    """Inside the sandbox: set hard rlimits, then become the kernel (never returns)."""
    sep = argv.index("--")
    opts = dict(a.lstrip("-").split("=", 1) for a in argv[:sep])
    cmd = argv[sep + 1:]
    cpu = int(opts.get("cpu", 900))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    fsize = int(opts.get("fsize", 512)) * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    mem = int(opts.get("memory", 16384)) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.makedirs(os.environ.get("MPLCONFIGDIR", "/tmp/.mpl"), exist_ok=True)
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":  # pragma: no cover - runs inside the sandbox
    _launch(sys.argv[1:])
