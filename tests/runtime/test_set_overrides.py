"""``medimg course run --set`` and ``--manifest``: YAML values, lesson scopes, unknown keys refused before work."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from medimg_kernel.errors import ConfigError
from medimg_kernel.runtime.overrides import lesson_params_of, overrides_for, parse_sets
from medimg_kernel.runtime.runner import course_root, run_course
from medimg_kernel.tiers import OVERRIDES_ENV, register_lesson_params, tier_params

LESSON_02 = course_root() / "02_cnn_classification.ipynb"


def test_values_parse_as_yaml_and_scopes_split():
    sets = parse_sets(["n_train=48", "options={n: 600}", "05:lr=1e-4", "channels=[4, 8]", "name=mednist",
                       "flag=true", "model_kwargs={}"])
    assert sets == [(None, "n_train", 48), (None, "options", {"n": 600}), ("05", "lr", 1e-4),
                    (None, "channels", [4, 8]), (None, "name", "mednist"), (None, "flag", True),
                    (None, "model_kwargs", {})]


@pytest.mark.parametrize("bad, words", [("n_train", "KEY=VALUE"), ("tier=full", "--tier"),
                                        ("x=[1, 2", "not valid YAML"), ("1x=3", "not a parameter name")])
def test_malformed_sets_are_one_line_errors(bad, words):
    with pytest.raises(ConfigError, match=words.replace("[", r"\[")) as err:
        parse_sets([bad])
    assert "\n" not in str(err.value)


def test_known_keys_are_read_from_the_notebook_without_running_it():
    lesson, params = lesson_params_of(LESSON_02)
    assert lesson == "02_cnn_classification"
    assert params["standard"]["model"] == "densenet121" and "n_train" in params["smoke"]
    assert overrides_for(LESSON_02, "standard", parse_sets(["n_train=48", "02:max_epochs=1", "07:size=3"])) == {
        "n_train": 48, "max_epochs": 1}


def test_unknown_key_fails_before_any_notebook_starts(tmp_path):
    out = tmp_path / "runs"
    with pytest.raises(ConfigError) as err:
        run_course([LESSON_02], tier="standard", out_dir=out, sets=["n_trian=48"], progress=False)
    msg = str(err.value)
    assert "n_trian" in msg and "it knows:" in msg and "n_train" in msg and "max_epochs" in msg
    assert not out.exists(), "work started before the keys were checked"
    with pytest.raises(ConfigError, match="no notebook of this run is '05'"):
        run_course([LESSON_02], tier="standard", out_dir=out, sets=["05:n_source=4"], progress=False)


def test_cli_reports_unknown_key_in_one_line_with_exit_2(tmp_path):
    res = subprocess.run([sys.executable, "-m", "medimg_kernel", "course", "run", "--tier", "standard",
                          "--out-dir", str(tmp_path), "--set", "n_trian=3", str(LESSON_02)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "n_trian" in lines[0] and "it knows:" in lines[0]


def test_tier_params_applies_env_overrides_last_and_refuses_unknown(monkeypatch):
    register_lesson_params("zz_set", {"standard": {"n_train": 5000, "lr": 1e-3}})
    monkeypatch.setenv(OVERRIDES_ENV, json.dumps({"n_train": 48, "options": {"n": 600}}))
    with pytest.raises(ConfigError, match="options unknown to lesson 'zz_set'.*it knows:.*n_train"):
        tier_params("zz_set", tier="standard")
    monkeypatch.setenv(OVERRIDES_ENV, json.dumps({"n_train": 48}))
    p = tier_params("zz_set", tier="standard")
    assert p["n_train"] == 48 and p["lr"] == 1e-3
    assert tier_params(None, tier="standard")["n_samples"] == 5000  # dataset loaders are not affected
    monkeypatch.setenv(OVERRIDES_ENV, "[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        tier_params("zz_set", tier="standard")


def test_a_redefining_manifest_is_announced_in_one_line(tmp_path, capsys):
    from medimg_kernel.data.registry import dataset_info, redefinitions

    e = dataset_info("mednist").to_dict()
    e.pop("registry_file")
    e["files"][0]["urls"] = ["http://127.0.0.1:9/MedNIST.tar.gz"]
    man = tmp_path / "mirror.yaml"
    man.write_text(yaml.safe_dump({"datasets": [e]}))
    assert redefinitions([man]) == {"mednist": (str(man), "the shipped entry")}
    assert redefinitions([]) == {}
    res = subprocess.run([sys.executable, "-m", "medimg_kernel", "data", "info", "mednist", "--manifest", str(man)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert f"note: dataset 'mednist' is redefined by {man} (replacing the shipped entry)" in res.stderr
    assert "127.0.0.1:9" in res.stdout
