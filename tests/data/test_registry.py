"""Registry schema validation, instructor manifests via MEDIMG_REGISTRY, and the shipped YAML files."""

from __future__ import annotations

import pytest
import yaml

import medimg_kernel as mk
from medimg_kernel.data.registry import load_manifest, registry_dirs
from medimg_kernel.errors import RegistryError, UnknownDatasetError

GOOD = {
    "name": "my-scans",
    "title": "My scans",
    "source": "remote",
    "modality": "CT",
    "task": "segmentation",
    "license": "CC0",
    "loader": "msd",
    "files": [
        {"filename": "Task99_Mine.tar", "urls": ["https://example.org/Task99_Mine.tar"], "md5": "a" * 32}
    ],
}


def _write(tmp_path, entries, name="m.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump({"datasets": entries}))
    return p


def test_shipped_registry_is_valid():
    assert registry_dirs(), "datasets/*.yaml must be reachable from the package"
    names = mk.datasets()
    assert len(names) >= 84
    assert mk.dataset_info("msd-hippocampus").files[0].known_hash == "md5:9d24dba78a72977dbd1d2e110310f31b"
    assert mk.dataset_info("mednist").files[0].known_hash.startswith("sha256:f2f4881f")
    assert mk.dataset_info("pathmnist-224").files[0].urls[0].endswith("pathmnist_224.npz?download=1")


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"source": "cloud"}, "source must be one of"),
        ({"loader": "magic"}, "loader must be one of"),
        ({"colour": "red"}, "unknown key"),
        ({"title": ""}, "missing required key"),
        ({"files": []}, "needs at least one entry under files"),
        ({"files": [{"filename": "x.tar", "urls": ["https://e.org/x"]}]}, "needs md5 and/or sha256"),
        ({"files": [{"filename": "x.tar", "urls": ["https://e.org/x"], "md5": "xyz"}]}, "32 hex digits"),
        (
            {"files": [{"filename": "../x.tar", "urls": ["https://e.org/x"], "md5": "a" * 32}]},
            "plain file name",
        ),
        ({"files": [{"filename": "x.tar", "urls": ["gopher://e.org/x"], "md5": "a" * 32}]}, "http"),
        ({"name": "Bad Name"}, "lower-case"),
    ],
)
def test_schema_errors_name_the_problem(tmp_path, patch, message):
    path = _write(tmp_path, [{**GOOD, **patch}])
    with pytest.raises(RegistryError, match=message) as err:
        load_manifest(path)
    assert str(path) in str(err.value)


def test_duplicate_and_bad_yaml(tmp_path):
    with pytest.raises(RegistryError, match="appears twice"):
        load_manifest(_write(tmp_path, [GOOD, GOOD]))
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: [oops: : :")
    with pytest.raises(RegistryError, match="not valid YAML"):
        load_manifest(bad)


def test_instructor_manifest_via_env(tmp_path, monkeypatch):
    folder = tmp_path / "extra"
    folder.mkdir()
    _write(folder, [GOOD], "course.yaml")
    assert "my-scans" not in mk.datasets()
    monkeypatch.setenv("MEDIMG_REGISTRY", str(folder))
    assert "my-scans" in mk.datasets()
    assert mk.dataset_info("my-scans").loader == "msd"


def test_unknown_dataset_suggests():
    with pytest.raises(UnknownDatasetError, match="did you mean msd-spleen"):
        mk.dataset_info("msd-splen")
