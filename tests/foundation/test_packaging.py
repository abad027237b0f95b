"""Packaging stays consistent: pyproject, environment.yml, README's two commands, CI, committed notebooks."""

import json
import re
import subprocess
import sys

import tomllib
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version


def _pyproject(repo_root):
    return tomllib.loads((repo_root / "pyproject.toml").read_text())


def test_torch_pin_keeps_cpu_wheel_and_allows_cuda(repo_root):
    deps = _pyproject(repo_root)["project"]["dependencies"]
    torch_req = next(d for d in deps if re.match(r"torch[<>=!~ ]", d))
    spec = SpecifierSet(torch_req[len("torch"):])
    assert Version("2.13.0") in spec          # the local CPU wheel (and the CUDA build of the same line)
    assert Version("2.14.0") not in spec      # would pull a multi-GB CUDA build on the course machines
    assert not any(d.startswith("torchvision") or d.startswith("itkwidgets") for d in deps)


def test_environment_yml_consistent_with_pyproject(repo_root):
    env = yaml.safe_load((repo_root / "environment.yml").read_text())
    proj = _pyproject(repo_root)["project"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    py = next(d for d in conda if d.startswith("python"))
    assert Version(py.split("=", 1)[1] + ".0") in SpecifierSet(proj["requires-python"])
    assert any(re.match(r"-e \"?\.(\[[a-z,]+\])?\"?$", p) for p in pip_section), "pip section must install this repo"
    # any package named in both places must not contradict pyproject (one source of truth)
    names = {re.split(r"[<>=!~\[ ]", d)[0].lower() for d in proj["dependencies"]}
    for d in conda:
        name = re.split(r"[<>=!~ ]", d)[0].lower()
        assert name in {"python", "pip", "nodejs"} or name not in names, f"{name} is pinned in both files"


def test_readme_commands_exist(repo_root):
    readme = (repo_root / "README.md").read_text()
    assert "make course" in readme and "make test" in readme
    makefile = (repo_root / "Makefile").read_text()
    assert re.search(r"^course:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    ci = (repo_root / ".ci" / "run").read_text()
    assert "make test" in ci


def test_notebooks_committed_without_outputs(repo_root):
    files = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=repo_root, capture_output=True, text=True).stdout.split()
    if not files:  # not a git checkout (e.g. an sdist)
        files = [str(p.relative_to(repo_root)) for p in repo_root.glob("notebooks/*.ipynb")]
    for f in files:
        nb = json.loads((repo_root / f).read_text())
        assert not nb.get("metadata", {}).get("widgets"), f
        for cell in nb["cells"]:
            assert not cell.get("outputs"), f"{f} has outputs"


def test_ruff_clean(repo_root):
    res = subprocess.run([sys.executable, "-m", "ruff", "check", str(repo_root)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-4000:]
