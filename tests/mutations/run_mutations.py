"""Mutation check: break the product on purpose, in a temporary copy, and expect the suite to notice.

usage: .venv/bin/python tests/mutations/run_mutations.py [--only NAME ...] [--keep] [--no-controls]

Each mutation edits one file of a copy of the working tree (git's tracked and untracked, non-ignored
files), runs the tests that guard that behaviour with this checkout's virtual environment (PYTHONPATH
points at the copy, so the mutated package is the one imported, also by kernels and CLIs started by
the tests) and passes when they FAIL with the expected message. A control run of the same tests on
the unmutated copy must pass, so a failure is the mutation's doing. Not part of the pytest run (the
file name does not start with ``test_``): the lesson mutation executes a notebook (about a minute).

Mutations:
  lesson-at-chance   lesson 01 records its naive baseline as the headline -> the course smoke test fails
  trainer-constant   the Trainer's evaluate/predict return constant outputs -> the "learns" tests fail
  chromium-missing   CI=true with the harness's Chromium path absent -> the browser tests fail
  ci-run-no-chromium .ci/run where Chromium cannot be installed -> exits non-zero before `make test`
  browser-skip-ci    a browser test that skips under CI=true -> reported as failed
  env-constant-ok    an environment check made constant "ok": True -> the envinfo tests fail
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable


@dataclass
class Mutation:
    name: str
    file: str  # path relative to the copy ("" for mutations that only add a file or change the environment)
    old: str
    new: str
    command: list[str]
    expect: str  # a string the failing output must contain
    env: dict[str, str] | None = None
    add: dict[str, str] | None = None  # extra files written into the copy (path -> text)
    control: bool = True


def _pytest(*args: str) -> list[str]:
    return [PY, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *args]


FAKE_BIN = {  # for .ci/run: apt-get that cannot install, make that records being called
    "fakebin/apt-get": "#!/bin/sh\necho 'E: Unable to locate package chromium' >&2\nexit 100\n",
    "fakebin/make": "#!/bin/sh\ntouch \"$(dirname \"$0\")/make-was-called\"\nexit 0\n",
}

MUTATIONS = [
    Mutation(
        "lesson-at-chance", "notebooks/01_medical_images_101.ipynb",
        "reorient_dice=reorient_dice,", "reorient_dice=naive_dice,",
        _pytest("tests/course/test_course_smoke.py", "-k", "beat_their_baselines", "-m", "slow"),
        "reorient_dice=", env={"MEDIMG_SMOKE_ONLY": "01_medical_images_101.ipynb"},
    ),
    Mutation(
        "trainer-constant", "medimg_kernel/train/trainer.py",
        "                out = self.model(self._fmt(x))\n",
        "                out = torch.zeros_like(self.model(self._fmt(x)))  # MUTATION: constant outputs\n",
        _pytest("tests/train/test_train_trainer.py", "-k", "learns or dice_and_hausdorff or channel_axis"),
        "majority_accuracy",
    ),
    Mutation(
        "chromium-missing", "tests/viz/labharness.py",
        'CHROMIUM = "/usr/bin/chromium"', 'CHROMIUM = "/nonexistent/chromium"',
        _pytest("tests/viz/test_browser.py", "--collect-only"),
        "CI=true but the browser tests cannot run", env={"CI": "true"},
    ),
    Mutation(
        "ci-run-no-chromium", ".ci/run", "CHROMIUM=/usr/bin/chromium", "CHROMIUM=/nonexistent/chromium",
        ["bash", ".ci/run"], "is missing after apt-get install chromium", add=FAKE_BIN,
    ),
    Mutation(
        "browser-skip-ci", "", "", "",
        _pytest("tests/viz/test_mutation_skip_probe.py"), "browser test skipped in CI",
        env={"CI": "true"},
        add={"tests/viz/test_mutation_skip_probe.py":
             "import pytest\n\n\n@pytest.mark.browser\ndef test_probe():\n    pytest.skip('no display')\n"},
        control=False,
    ),
    Mutation(
        "env-constant-ok", "medimg_kernel/runtime/envinfo.py",
        '"ok": r["data_dir_writable"]', '"ok": True', _pytest("tests/runtime/test_envinfo.py"),
        "constant check",
    ),
]


def copy_tree(dest: Path) -> None:
    """Copy the working tree's tracked and untracked, non-ignored files (no .git, .venv or outputs)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file() or src.is_symlink():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel, follow_symlinks=False)


def run(m: Mutation, copy: Path, mutated: bool) -> tuple[int, str, float]:
    env = {**os.environ, "PYTHONPATH": str(copy), **(m.env or {})}
    if m.add:
        for rel, text in m.add.items():
            path = copy / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            if rel.startswith("fakebin/"):
                path.chmod(0o755)
        if any(r.startswith("fakebin/") for r in m.add):
            env["PATH"] = f"{copy / 'fakebin'}:{env['PATH']}"
    (copy / "fakebin" / "make-was-called").unlink(missing_ok=True)
    target = copy / m.file if m.file else None
    original = target.read_text() if target else None
    try:
        if mutated and target:
            if m.old not in original:
                return -1, f"mutation anchor not found in {m.file}: {m.old!r}", 0.0
            target.write_text(original.replace(m.old, m.new, 1))
        t0 = time.monotonic()
        res = subprocess.run(m.command, cwd=copy, env=env, capture_output=True, text=True, timeout=1800)
        return res.returncode, res.stdout + res.stderr, time.monotonic() - t0
    finally:
        if target:
            target.write_text(original)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", default=None, help="run only these mutations")
    ap.add_argument("--keep", action="store_true", help="keep the temporary copy")
    ap.add_argument("--no-controls", action="store_true", help="skip the unmutated control runs")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    tmp = Path(tempfile.mkdtemp(prefix="medimg-mutations-"))
    copy = tmp / "repo"
    copy.mkdir()
    copy_tree(copy)
    print(f"copy of the working tree: {copy}")
    ok_all = True
    try:
        for m in chosen:
            rc, out, secs = run(m, copy, mutated=True)
            caught = rc not in (0, -1) and m.expect in out
            if m.name == "ci-run-no-chromium":
                caught = caught and not (copy / "fakebin" / "make-was-called").exists()
            line = f"{m.name:20s} mutated: rc={rc:3d} {'CAUGHT' if caught else 'MISSED'} ({secs:.0f}s)"
            ok = caught
            if m.control and not args.no_controls:
                crc, cout, csecs = run(m, copy, mutated=False)
                if m.name == "ci-run-no-chromium" and not (copy / "fakebin" / "make-was-called").exists():
                    crc = crc or 99  # the unmutated script must reach `make test`
                ok = ok and crc == 0
                line += f" | control: rc={crc} {'passes' if crc == 0 else 'FAILS'} ({csecs:.0f}s)"
                if crc != 0:
                    out = cout
            print(line, flush=True)
            if not ok:
                ok_all = False
                print("    " + "\n    ".join(out.strip().splitlines()[-25:]))
    finally:
        if args.keep:
            print(f"kept {copy}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("all mutations caught" if ok_all else "SOME MUTATIONS WERE NOT CAUGHT (or a control failed)")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
