"""The prebuilt front end: committed and small, rebuilt from source in CI, shipped in the wheel, enabled on install."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from medimg_kernel.server import LABEXTENSION_NAME
from medimg_kernel.server.install import built_labextension_dir, install_labextension, labextension_status

REPO = Path(__file__).resolve().parents[2]
BUDGET = 500_000


def test_committed_bundle_is_complete_and_under_budget():
    built = built_labextension_dir()
    meta = json.loads((built / "package.json").read_text())
    assert meta["name"] == LABEXTENSION_NAME
    assert (built / meta["jupyterlab"]["_build"]["load"]).is_file()
    size = sum(p.stat().st_size for p in (built / "static").iterdir())
    assert 5_000 < size <= BUDGET, size
    src = json.loads((REPO / "widgets" / "labextension" / "package.json").read_text())
    assert src["version"] == meta["version"] and "@jupyter/builder" in src["devDependencies"]
    assert (REPO / "widgets" / "labextension" / "package-lock.json").is_file()  # npm ci needs it


def test_install_links_the_front_end_and_enables_the_server_extension(tmp_path):
    out = install_labextension(tmp_path)
    dest = Path(out["labextension"])
    assert dest.is_symlink() and dest.resolve() == built_labextension_dir()
    cfg = json.loads(Path(out["server_config"]).read_text())
    assert cfg["ServerApp"]["jpserver_extensions"]["medimg_kernel.server"] is True
    install_labextension(tmp_path)  # idempotent
    out = install_labextension(tmp_path, copy=True)
    assert not Path(out["labextension"]).is_symlink()
    assert (Path(out["labextension"]) / "package.json").is_file()


def test_status_finds_an_installed_front_end(tmp_path, monkeypatch):
    install_labextension(tmp_path / "prefix")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "prefix" / "share" / "jupyter"))
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(tmp_path / "prefix" / "etc" / "jupyter"))
    st = labextension_status()
    assert st["installed"] and st["server_extension"] and st["version"] == "0.1.0"


def _copy_front_end(dst: Path) -> Path:
    """The front-end sources and the shipped bundle in a scratch repo layout (no node_modules)."""
    src = REPO / "widgets" / "labextension"
    shutil.copytree(src, dst / "widgets" / "labextension",
                    ignore=shutil.ignore_patterns("node_modules", "lib", "tsconfig.tsbuildinfo"))
    shutil.copytree(REPO / "medimg_kernel" / "labextension", dst / "medimg_kernel" / "labextension")
    return dst / "widgets" / "labextension"


def test_sources_fingerprint_matches_the_shipped_bundle():
    """Fast, no node: the sha256 over the build inputs equals the one stored when the bundle was built."""
    out = subprocess.run([str(REPO / "widgets" / "labextension" / "check_bundle.sh"), "--sources-only"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "bundle up to date" in out.stdout


def test_an_edited_source_makes_the_bundle_stale(tmp_path):
    fe = _copy_front_end(tmp_path)
    check = [str(fe / "check_bundle.sh"), "--sources-only"]
    assert subprocess.run(check, capture_output=True, text=True, timeout=60).returncode == 0
    index = fe / "src" / "index.ts"
    index.write_text(index.read_text() + "\n// an edit\n")
    out = subprocess.run(check, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "stale" in out.stderr and "build.sh" in out.stderr
    (tmp_path / "medimg_kernel" / "labextension" / "source.sha256").unlink()
    out = subprocess.run(check, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "source.sha256 is missing" in out.stderr


@pytest.mark.slow
def test_shipped_bundle_matches_a_fresh_build():
    """npm ci (when node_modules is absent) + tsc + jupyter-builder: the sources build, and the bundle is fresh.

    A rebuild that differs only in bytes (another toolchain) is a printed note and leaves the bundle as shipped.
    """
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("node and npm are needed to rebuild the front end (apt-get install nodejs npm)")
    out = subprocess.run([str(REPO / "widgets" / "labextension" / "check_bundle.sh")], capture_output=True,
                         text=True, timeout=900, env=dict(os.environ, PYTHON=sys.executable))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "bundle up to date" in out.stdout
    assert subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "medimg_kernel/labextension"],
                          capture_output=True, text=True).stdout == ""


def _jupyter(python: Path, module: str, *args: str, env: dict[str, str]) -> str:
    code = f"import sys; from {module} import main; sys.argv = ['jupyter'] + sys.argv[1:]; main()"
    out = subprocess.run([str(python), "-c", code, *args], capture_output=True, text=True, timeout=120, env=env,
                         cwd=env["HOME"])  # not the checkout: `python -c` puts the cwd first on sys.path
    return out.stdout + out.stderr


@pytest.mark.slow
def test_wheel_installs_the_extension_into_a_fresh_environment(tmp_path):
    """pip wheel --no-deps, a fresh venv (dependencies reused from this one), `jupyter labextension list`."""
    wheels = tmp_path / "wheels"
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(wheels), str(REPO)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    wheel = next(wheels.glob("medimg_kernel-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    load = json.loads((built_labextension_dir() / "package.json").read_text())["jupyterlab"]["_build"]["load"]
    share = f"data/share/jupyter/labextensions/{LABEXTENSION_NAME}"
    for want in (f"{share}/package.json", f"{share}/{load}", f"{share}/static/style.js",
                 "data/etc/jupyter/jupyter_server_config.d/medimg_kernel.json"):
        assert any(n.endswith(want) for n in names), (want, [n for n in names if ".data/" in n])

    fresh = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=False).create(fresh)
    python = fresh / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # reuse this environment's dependencies (no download); the wheel's own files come first on the path
    here = subprocess.run([sys.executable, "-c", "import jupyterlab, pathlib; print(pathlib.Path(jupyterlab.__file__).parents[1])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "zz_reuse_deps.pth").write_text(here + "\n")
    out = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                          str(wheel)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (fresh / "share" / "jupyter" / "labextensions" / LABEXTENSION_NAME / "package.json").is_file()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(HOME=str(tmp_path / "home"), PATH=f"{fresh / 'bin'}:{os.environ['PATH']}")
    Path(env["HOME"]).mkdir()
    where = subprocess.run([str(python), "-c", "import medimg_kernel; print(medimg_kernel.__file__)"],
                           capture_output=True, text=True, env=env, check=True, cwd=env["HOME"]).stdout
    assert where.startswith(str(fresh)), where  # the wheel's copy, not the source checkout
    listing = _jupyter(python, "jupyterlab.labextensions", "list", env=env)
    line = next((ln for ln in listing.splitlines() if LABEXTENSION_NAME in ln), "")
    assert "enabled" in line and "OK" in line, listing
    servers = _jupyter(python, "jupyter_server.extension.serverextension", "list", env=env)
    assert any("medimg_kernel.server" in ln and "enabled" in ln for ln in servers.splitlines()), servers


def test_cli_install_prints_where_and_a_missing_bundle_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    from medimg_kernel.cli import USER_ERROR, main
    from medimg_kernel.server import install as inst

    assert main(["labextension", "install", "--prefix", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path}/share/jupyter/labextensions/{LABEXTENSION_NAME}" in out and "server extension enabled" in out
    monkeypatch.setattr(inst, "built_labextension_dir", lambda: tmp_path / "nothing-here")
    assert main(["labextension", "install", "--prefix", str(tmp_path / "p2")]) == USER_ERROR
    err = capsys.readouterr().err.strip()
    assert err.startswith("medimg: error: the prebuilt front end is missing") and "\n" not in err
