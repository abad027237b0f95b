"""The synthetic multimodal cohort: determinism, co-registration, appearance per modality, tables."""

from __future__ import annotations

import numpy as np
import pytest

from medimg_kernel.data.synthetic import generate, generators
from medimg_kernel.fusion import stack_modalities


@pytest.fixture(scope="module")
def cohort():
    return generate("multimodal_cohort", 12, seed=3)


def test_registered():
    assert "multimodal_cohort" in generators()


def test_shapes_and_keys(cohort):
    for m in cohort["modalities"]:
        assert cohort[m].shape == (12, 32, 32, 32) and cohort[m].dtype == np.float32
    assert cohort["seg"].shape == (12, 32, 32, 32) and set(np.unique(cohort["seg"])) == {0, 1, 2, 3}
    assert cohort["affine"].shape == (4, 4) and cohort["pet_lowres"].shape == (12, 16, 16, 16)
    assert cohort["clinical"].shape[0] == 12 and cohort["genomic"].shape[0] == 12
    assert list(cohort["clinical"].index) == list(cohort["patient_id"])
    assert cohort["time"].shape == (12,) and set(np.unique(cohort["event"])) <= {0, 1}
    documented = " ".join(cohort["data_dictionary"]["column"])
    for col in [*cohort["clinical"].columns, *cohort["genomic"].columns[:4]]:
        assert col in documented


def test_deterministic_and_patient_independent_of_n(cohort):
    again = generate("multimodal_cohort", 12, seed=3)
    np.testing.assert_array_equal(again["flair"], cohort["flair"])
    small = generate("multimodal_cohort", 4, seed=3)
    np.testing.assert_array_equal(small["t1c"], cohort["t1c"][:4])
    assert small["clinical"].equals(cohort["clinical"].iloc[:4])
    other = generate("multimodal_cohort", 4, seed=4)
    assert not np.allclose(other["t1"], cohort["t1"][:4])


def test_tumour_appearance_differs_per_modality(cohort):
    seg = cohort["seg"]
    core, oedema, rim = seg == 1, seg == 2, seg == 3
    brain = cohort["t1"] > 0.3
    healthy = brain & (seg == 0)
    mean = {
        m: {
            k: cohort[m][v].mean()
            for k, v in {"core": core, "oedema": oedema, "rim": rim, "healthy": healthy}.items()
        }
        for m in cohort["modalities"]
    }
    assert mean["t1c"]["rim"] > mean["t1c"]["healthy"] + 0.3  # enhancing rim
    assert mean["t1c"]["rim"] > mean["t1"]["rim"] + 0.3  # contrast uptake only after gadolinium
    assert mean["flair"]["oedema"] > mean["flair"]["healthy"] + 0.1  # bright oedema on FLAIR
    assert mean["pet"]["rim"] > mean["pet"]["healthy"] + 0.3  # hot tumour rim on PET
    assert mean["pet"]["rim"] > mean["pet"]["oedema"] + 0.2  # oedema is not metabolically active


def test_pet_lowres_needs_resampling(cohort):
    images = {"t1": cohort["t1"][0], "pet": cohort["pet_lowres"][0]}
    affines = {"t1": cohort["affine"], "pet": cohort["pet_lowres_affine"]}
    with pytest.raises(Exception, match="pet"):
        stack_modalities(images, affines)
    stacked = stack_modalities(images, affines, resample=True)
    rim = cohort["seg"][0] == 3
    assert stacked[1][rim].mean() > stacked[1][cohort["seg"][0] == 0].mean()
    corr = np.corrcoef(stacked[1].ravel(), cohort["pet"][0].ravel())[0, 1]
    assert corr > 0.9


def test_survival_model_has_three_risk_sources():
    c = generate("multimodal_cohort", 1500, seed=1, images=False)
    assert "t1" not in c
    assert 0.2 < 1 - c["event"].mean() < 0.4
    from medimg_kernel.fusion import harrell_c_index

    single = {
        k: harrell_c_index(c["time"], c["event"], c["risk_parts"][k])
        for k in ("imaging", "clinical", "genomic")
    }
    full = harrell_c_index(c["time"], c["event"], c["risk"])
    assert all(0.6 < v < 0.7 for v in single.values()), single
    assert full > max(single.values()) + 0.08
    # the parts are (by design) independent of each other
    corr = np.corrcoef(c["risk_parts"].to_numpy().T)
    assert np.abs(corr[np.triu_indices(3, 1)]).max() < 0.1
