"""`medimg env` shows the cached measured precision choices and why; `--recalibrate` measures again."""

import json

import pytest

from medimg_kernel.cli import main
from medimg_kernel.device import cached_choices, device_policy, store_choice


@pytest.fixture()
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDIMG_DATA", str(tmp_path))
    monkeypatch.delenv("MEDIMG_PRECISION", raising=False)
    return tmp_path


def test_env_lists_cached_choices_with_their_reason(data, capsys):
    main(["env"])
    assert "measured precision: none yet" in capsys.readouterr().out
    pol = device_policy()
    here = pol.signature()
    store_choice(f"{here}||Net|10p|classification||1x8x8|b16",
                 {"machine": here, "model": "Net|10p|classification", "shape": "1x8x8|b16",
                  "choice": "bf16+channels_last", "why": "measured 4 settings: bf16+channels_last x1.31 vs fp32"})
    store_choice("elsewhere", {"machine": "another machine", "model": "X", "shape": "s", "choice": "fp32+contiguous",
                               "why": "other"})
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert "Net|10p|classification [1x8x8|b16]: bf16+channels_last" in out and "x1.31 vs fp32" in out
    assert "another machine" not in out and "auto, measured per model" in out
    main(["env", "--json"])
    rep = json.loads(capsys.readouterr().out)
    assert [c["choice"] for c in rep["precision_choices"]] == ["bf16+channels_last"] and rep["precision_auto"]


@pytest.mark.slow
def test_recalibrate_replaces_this_machines_choices(data, capsys):
    pol = device_policy()
    here = pol.signature()
    store_choice("stale", {"machine": here, "model": "Old", "shape": "s", "choice": "bf16+contiguous", "why": "old"})
    assert main(["env", "--recalibrate"]) == 0
    out = capsys.readouterr().out
    now = cached_choices(here)
    assert "stale" not in now
    for key, entry in now.items():  # every representative model measured now is listed with its choice
        assert f"measured {key.split('||', 1)[1]}: {entry['choice']}" in out
