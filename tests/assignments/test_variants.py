"""Per-student variants: the id comes from the grading folder under autograde, data differ per student,
and the solution passes every variant."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest

from medimg_kernel.grading.variants import student_id, variant_seed

COURSE = Path(__file__).resolve().parents[2] / "assignments"


def test_id_under_autograde_comes_from_the_folder(tmp_path, monkeypatch):
    work = tmp_path / "course" / "autograded" / "alice" / "01_medical_images"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("MEDIMG_STUDENT_ID", "mallory")  # a student cannot pick someone else's variant
    assert student_id() == "alice"
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    assert student_id() == "mallory"
    monkeypatch.delenv("MEDIMG_STUDENT_ID")
    monkeypatch.setenv("JUPYTERHUB_USER", "bob")
    assert student_id() == "bob"
    monkeypatch.delenv("JUPYTERHUB_USER")
    assert student_id() == "anonymous"


def test_seeds_stable_and_distinct():
    seeds = {variant_seed("01_medical_images", f"s{i}") for i in range(200)}
    assert len(seeds) == 200
    assert variant_seed("01_medical_images", "alice") == variant_seed("01_medical_images", "alice")
    assert variant_seed("01_medical_images", "alice") != variant_seed("02_cnn_classification", "alice")


@pytest.mark.slow
def test_solution_passes_two_variants_with_different_data(tmp_path):
    from nbclient import NotebookClient

    outputs = {}
    for student in ("alice", "bob"):
        work = tmp_path / student
        shutil.copytree(COURSE / "source" / "01_medical_images", work)
        nb = nbformat.read(str(work / "01_medical_images.ipynb"), as_version=4)
        env_before = dict(os.environ)
        os.environ["MEDIMG_STUDENT_ID"] = student
        try:
            NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
        finally:
            os.environ.clear()
            os.environ.update(env_before)
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{student}: {errors[0]['ename']}: {errors[0]['evalue']}"
        setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
        outputs[student] = "".join(o.get("text", "") for o in setup.outputs)
    assert "variant of alice" in outputs["alice"] and "variant of bob" in outputs["bob"]
    assert outputs["alice"].split("- ", 1)[1] != outputs["bob"].split("- ", 1)[1]


@pytest.mark.parametrize("name", sorted(p.name for p in (COURSE / "source").iterdir() if p.is_dir()))
def test_every_assignment_draws_its_data_from_the_student_variant(name):
    nb = nbformat.read(str(COURSE / "source" / name / f"{name}.ipynb"), as_version=4)
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    assert "variant_seed(" in setup.source or "variant_rng(" in setup.source, f"{name}: setup has no variant"
    assert "variant of" in setup.source and "student_id()" in setup.source, f"{name}: print whose variant it is"
    assert f'"{name}"' in setup.source, f"{name}: the variant should be keyed by the assignment's own name"
