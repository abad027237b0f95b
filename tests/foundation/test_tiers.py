import pytest

from medimg_kernel.errors import ConfigError
from medimg_kernel.tiers import TIERS, get_tier, register_lesson_params, tier_params


def test_unknown_tier_names_valid_ones():
    with pytest.raises(ConfigError, match="smoke, standard, full"):
        get_tier("huge")


def test_env_and_auto(monkeypatch):
    monkeypatch.setenv("MEDIMG_TIER", "full")
    assert get_tier().name == "full"
    monkeypatch.delenv("MEDIMG_TIER")
    assert get_tier().name in TIERS  # auto from hardware
    assert get_tier("AUTO").name in TIERS


def test_params_merge_order():
    register_lesson_params("zz_test", {"smoke": {"max_steps": 7, "extra": 1}})
    p = tier_params("zz_test", tier="smoke", extra=2)
    assert p["tier"] == "smoke" and p["max_steps"] == 7 and p["extra"] == 2
    assert tier_params("zz_test", tier="full")["max_steps"] is None
    with pytest.raises(ConfigError):
        register_lesson_params("zz_bad", {"gigantic": {}})


def test_auto_never_picks_full_even_on_a_big_gpu(monkeypatch):
    """auto -> standard on any GPU: `full` downloads whole datasets and runs only when named."""
    import torch

    from medimg_kernel.tiers import auto_tier

    class Props:
        total_memory = 141 * 2**30

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: Props())
    assert auto_tier() == "standard"
    monkeypatch.setenv("MEDIMG_TIER", "auto")
    assert get_tier().name == "standard"
    assert get_tier("full").name == "full"
