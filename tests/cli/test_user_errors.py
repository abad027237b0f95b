"""Every ``medimg`` sub-command answers a user error with one line ``medimg: error: ...`` and exit code 2.

The cases are generated from the parser itself (every leaf command of every module in ``SUBCOMMANDS``,
including ones added later): a wrong option, a missing file and a corrupt file (garbage bytes) for its
first positional argument. A real bug keeps its traceback and adds one line on how to report it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medimg_kernel.cli import SUBCOMMANDS, build_parser, main

GARBAGE = bytes(range(256)) * 4  # not UTF-8, not JSON, not YAML, not an archive
SUFFIX = {"config": ".yaml", "notebooks": ".ipynb", "notebook": ".ipynb", "file": ".tar", "certificate": ".json"}


def _leaves(parser: argparse.ArgumentParser, prefix: list[str]):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix, [a for a in parser._actions if not a.option_strings]
        return
    for action in subs:
        for name, sp in action.choices.items():
            yield from _leaves(sp, [*prefix, name])


LEAVES = list(_leaves(build_parser(), []))


def _cases():
    for cmd, positionals in LEAVES:
        yield pytest.param(cmd, "wrong-option", None, id=" ".join([*cmd, "wrong-option"]))
        if positionals:
            suffix = SUFFIX.get(positionals[0].dest, ".bin")
            for kind in ("missing", "corrupt"):
                yield pytest.param(cmd, kind, suffix, id=" ".join([*cmd, kind]))


def _run(argv: list[str]) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse
            rc = exc.code
    return rc, err.getvalue()


def test_every_subcommand_module_is_covered():
    top = {cmd[0] for cmd, _ in LEAVES}
    assert top == {name for name in SUBCOMMANDS if name in top}  # nothing outside SUBCOMMANDS
    assert {"env", "data", "train", "course", "grade"} <= top
    assert len(LEAVES) >= 20


@pytest.mark.slow
@pytest.mark.parametrize("cmd,kind,suffix", list(_cases()))
def test_user_error_is_one_line_exit_2(cmd, kind, suffix, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEDIMG_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no signing keys, kernels or caches of the real user
    if kind == "wrong-option":
        argv = [*cmd, "--no-such-option-xyz"]
    else:
        path = tmp_path / f"{kind}{suffix}"
        if kind == "corrupt":
            path.write_bytes(GARBAGE)
        argv = [*cmd, str(path)]
    rc, err = _run(argv)
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.lstrip().startswith(("course (", "\r"))]
    assert rc == 2, err
    assert "Traceback" not in err, err
    assert lines and lines[-1].startswith("medimg: error: "), err
    assert all(ln.startswith("medimg: ") for ln in lines), err  # log lines carry the prefix too


def test_a_real_bug_shows_its_traceback_and_how_to_report_it(monkeypatch):
    import medimg_kernel.cli.data as data_cli

    def broken(args):
        raise ZeroDivisionError("a bug, not the user's fault")

    monkeypatch.setattr(data_cli, "_cmd_path", broken)
    rc, err = _run(["data", "path", "mednist"])
    assert rc == 1
    assert "Traceback (most recent call last)" in err and "ZeroDivisionError" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("medimg: internal error: this is a bug in medimg") and "report it" in last


def test_console_script_one_line(tmp_path):
    """The installed ``medimg`` entry point (a fresh process) behaves like main()."""
    exe = Path(sys.executable).with_name("medimg")
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"model: [unclosed\n")
    res = subprocess.run([str(exe), "train", str(bad)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "MEDIMG_DATA": str(tmp_path)})
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith(f"medimg: error: {bad} is not a valid YAML file (line 2")
