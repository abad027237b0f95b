"""Published reference results, with their sources and protocols, for the lessons' real datasets.

A number means little without a reference, and a reference means little unless the protocol matches. Each
:class:`PublishedResult` names the dataset (a registry name), the metric, the value, where it was published
and how it was obtained. :func:`compare_with_published` puts a run's figures beside the published ones and
says, row by row, that the protocol differs (a lesson's standard tier never replicates a paper's protocol).
The figures come from the sources' own text and saved outputs; a student needs no file outside this package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["PublishedResult", "PUBLISHED", "published_results", "compare_with_published"]


@dataclass(frozen=True)
class PublishedResult:
    """One published figure: ``metric`` = ``value`` on ``dataset``, from ``source`` (``url``), under ``protocol``."""

    dataset: str
    metric: str
    value: float
    source: str
    url: str
    protocol: str


_MEDMNIST = "https://doi.org/10.1038/s41597-022-01721-8"
_MEDMNIST_R18 = "ResNet-18 at 28 x 28 px, the official splits, 100 epochs, Adam lr 1e-3"

#: the reference table (dataset registry name -> figures); MedMNIST v2 cells are test AUC / accuracy
PUBLISHED: tuple[PublishedResult, ...] = (
    PublishedResult("mednist", "accuracy", 0.9951, "MONAI mednist_tutorial",
                    "https://github.com/Project-MONAI/tutorials/blob/main/2d_classification/mednist_tutorial.ipynb",
                    "DenseNet121, all 47,164 training images at 64 x 64, batch 300, Adam lr 1e-5, 4 epochs"),
    PublishedResult("msd-spleen", "mean foreground Dice", 0.9510, "MONAI spleen_segmentation_3d tutorial",
                    "https://github.com/Project-MONAI/tutorials/blob/main/3d_segmentation/spleen_segmentation_3d.ipynb",
                    "3D UNet on 96^3 patches of 1.5 x 1.5 x 2 mm CT, 32 training volumes, 600 epochs (best at 598)"),
    PublishedResult("msd-braintumour", "mean Dice (tumour core, whole tumour, enhancing)", 0.7914,
                    "MONAI brats_segmentation_3d tutorial",
                    "https://github.com/Project-MONAI/tutorials/blob/main/3d_segmentation/brats_segmentation_3d.ipynb",
                    "SegResNet, 224 x 224 x 144 crops, 300 epochs (best at 279); regions TC/WT/ET, not the "
                    "oedema/non-enhancing/enhancing labels"),
    PublishedResult("pneumoniamnist", "AUC", 0.944, "MedMNIST v2 (Yang et al., Sci Data 2023)", _MEDMNIST, _MEDMNIST_R18),
    PublishedResult("pneumoniamnist", "accuracy", 0.854, "MedMNIST v2 (Yang et al., Sci Data 2023)", _MEDMNIST,
                    _MEDMNIST_R18),
    PublishedResult("breastmnist", "AUC", 0.901, "MedMNIST v2 (Yang et al., Sci Data 2023)", _MEDMNIST, _MEDMNIST_R18),
    PublishedResult("breastmnist", "accuracy", 0.863, "MedMNIST v2 (Yang et al., Sci Data 2023)", _MEDMNIST,
                    _MEDMNIST_R18),
)


def published_results(dataset: str) -> list[PublishedResult]:
    """The published figures for registry dataset ``dataset`` (empty for synthetic or unlisted data)."""
    return [r for r in PUBLISHED if r.dataset == dataset]


def compare_with_published(dataset: str, results: dict[str, float], protocol: str, *,
                           label: str = "this run") -> Any:
    """A table of this run's ``results`` (metric -> value, under ``protocol``) beside the published figures for
    ``dataset``: one row per source, a column per metric, and a ``protocol`` column that says how each was
    obtained. Metrics are matched by name; a published metric the run did not report is shown too. With
    no published figure (synthetic data), the table has the run's row only and ``attrs["note"]`` says so."""
    import pandas as pd

    rows: dict[str, dict[str, Any]] = {label: {**{k: float(v) for k, v in results.items()}, "protocol": protocol}}
    for r in published_results(dataset):
        name = f"published: {r.source}"
        rows.setdefault(name, {"protocol": f"{r.protocol} ({r.url})"})[r.metric] = r.value
    table = pd.DataFrame.from_dict(rows, orient="index")
    cols = [c for c in table.columns if c != "protocol"] + ["protocol"]
    table = table[cols]
    table.attrs["note"] = (f"no published result for {dataset!r}: compare with the baseline and chance instead"
                           if len(rows) == 1 else "the protocols differ: the published figure is a sanity band, "
                           "not a target this run replicates")
    return table
