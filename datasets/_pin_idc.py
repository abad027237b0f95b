"""Pin NCI Imaging Data Commons series into a registry entry (``source: bucket``) from IDC's own index.

The query runs offline on the index that ``idc-index`` ships (the ``idc-index-data`` wheel holds it as a
parquet file; ``pip install idc-index-data``, or ``idc-index``, whose ``IDCClient`` queries the same table).
For every chosen series it records the bucket folder (``crdc_series_uuid``), the ``SeriesInstanceUID``,
the number of instances and the size, so that ``mk.fetch`` can check that the bucket still holds exactly
that series. Run it again (with a newer index) to re-pin.

    python datasets/_pin_idc.py --collection qiba_ct_liver_phantom --series 4fb1a4b9-... 4333763d-... \\
        --name idc-qiba-ct-liver-phantom > datasets/idc.yaml
"""

from __future__ import annotations

import argparse
import sys

import yaml

COLUMNS = ["collection_id", "PatientID", "SeriesInstanceUID", "StudyInstanceUID", "Modality", "instanceCount",
           "license_short_name", "crdc_series_uuid", "series_size_MB", "source_DOI", "aws_bucket",
           "SeriesDescription", "TransferSyntaxUID"]


def index_table(path: str | None = None):
    """IDC's series index as a pandas table (from ``idc_index_data`` unless a parquet ``path`` is given)."""
    import pandas as pd

    if path is None:
        try:
            import idc_index_data
        except ImportError:
            sys.exit("this needs IDC's index: pip install idc-index-data (or idc-index), or pass --index FILE")
        path = str(idc_index_data.IDC_INDEX_PARQUET_FILEPATH)
    return pd.read_parquet(path, columns=COLUMNS)


def _idc_version() -> int:
    """The IDC data release of the installed index (idc-index-data's major version)."""
    import idc_index_data

    return int(idc_index_data.__version__.split(".")[0])


def pin(table, collection: str, series: list[str]) -> list[dict]:
    """One ``options.series`` row per requested ``crdc_series_uuid`` of ``collection``, in the order given."""
    rows = table[(table.collection_id == collection) & table.crdc_series_uuid.isin(series)].set_index("crdc_series_uuid")
    missing = [s for s in series if s not in rows.index]
    if missing:
        sys.exit(f"not in the index for {collection}: {', '.join(missing)}")
    return [{"folder": s, "series_uid": rows.at[s, "SeriesInstanceUID"], "instances": int(rows.at[s, "instanceCount"]),
             "size_mb": round(float(rows.at[s, "series_size_MB"]), 3), "patient": rows.at[s, "PatientID"],
             "modality": rows.at[s, "Modality"], "description": rows.at[s, "SeriesDescription"]} for s in series]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--collection", required=True)
    ap.add_argument("--series", nargs="+", required=True, metavar="CRDC_SERIES_UUID")
    ap.add_argument("--name", required=True)
    ap.add_argument("--title")
    ap.add_argument("--index", help="a parquet file of the IDC index (default: idc_index_data's)")
    args = ap.parse_args()
    table = index_table(args.index)
    rows = pin(table, args.collection, args.series)
    first = table[table.crdc_series_uuid == args.series[0]].iloc[0]
    entry = {"name": args.name, "title": args.title or f"NCI IDC {args.collection} ({len(rows)} series)",
             "source": "bucket", "modality": str(first.Modality), "task": "cohort analytics (DICOM series)", "dims": 3,
             "license": str(first.license_short_name),
             "citation": f"{args.collection}, doi:{first.source_DOI}; Fedorov A. et al., National Cancer Institute "
                         "Imaging Data Commons, RadioGraphics 43(12) e230180 (2023), doi:10.1148/rg.230180",
             "homepage": "https://portal.imaging.datacommons.cancer.gov/", "loader": "dicom_series",
             "options": {"bucket": str(first.aws_bucket).split("://")[-1].strip("/"), "anonymous": True,
                         "idc_version": _idc_version()
                         if args.index is None else None, "collection": args.collection, "series": rows}}
    print(yaml.safe_dump({"datasets": [entry]}, sort_keys=False, allow_unicode=True))

if __name__ == "__main__":
    main()
