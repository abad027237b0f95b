"""``medimg data``: list, inspect, fetch, verify, pack and unpack registered datasets."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _manifests(args: argparse.Namespace) -> list[str]:
    return list(getattr(args, "manifest", None) or [])


def _cmd_list_offline(args: argparse.Namespace) -> int:
    from ..data.offline import offline_catalogue

    rows = offline_catalogue()
    if args.json:
        json.dump([r.to_dict() for r in rows], sys.stdout, indent=1)
        print()
        return 0
    width = max((len(r.name) for r in rows), default=4)
    for r in rows:
        shape = "×".join(str(s) for s in r.shape)
        print(f"  {r.name:<{width}}  {r.modality[:26]:<26} {shape:<18} {r.package:<10} {r.license[:60]}")
    mods = {r.modality.split(" ")[0] for r in rows}
    print(f"{len(rows)} real files in installed packages, {len(mods)} modalities, nothing downloaded "
          "(shapes read from file headers; pip install pydicom-data adds US, CR, SEG)")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    if getattr(args, "offline", False):
        return _cmd_list_offline(args)
    from ..data.fetcher import is_cached
    from ..data.registry import registry

    reg = registry(_manifests(args))
    rows: list[dict[str, Any]] = []
    for name in sorted(reg):
        e = reg[name]
        if args.source and e.source != args.source:
            continue
        d = e.to_dict()
        d["cached"] = is_cached(e, args.data_dir)
        rows.append(d)
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
        return 0
    width = max((len(r["name"]) for r in rows), default=4)
    try:
        for r in rows:
            mark = "*" if r["cached"] and r["source"] == "remote" else " "
            print(f"{mark} {r['name']:<{width}}  {r['source']:<9} {r['modality'][:22]:<22} {r['title']}")
        print(f"{len(rows)} datasets (* = verified in the cache)")
    except BrokenPipeError:  # `medimg data list | head`
        sys.stdout = None  # type: ignore[assignment]  # silence the flush at exit
    return 0


def _cmd_twin(args: argparse.Namespace) -> int:
    from ..data.registry import dataset_info
    from ..data.twins import write_twins

    path = write_twins(args.names, args.out, base_url=args.base_url, n=args.n, seed=args.seed)
    print(f"wrote {len(args.names)} twin(s) and {path}; use it with MEDIMG_REGISTRY={path} "
          f"or `medimg course run --manifest {path}`")
    for name in args.names:
        e = dataset_info(name)
        if e.source == "bucket":  # objects, not files: they go into an S3 server at --base-url
            b = e.options["bucket"]
            print(f"{name}: upload {Path(args.out) / b} to a public bucket s3://{b} of the S3 server at "
                  f"{args.base_url or '(give --base-url: the S3 endpoint)'} (mk.cohort.LocalS3().create_bucket("
                  f"{b!r}, public=True) and mk.cohort.upload)")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from ..data.fetcher import dataset_path, is_cached
    from ..data.registry import dataset_info, redefinitions

    e = dataset_info(args.name, _manifests(args))
    d = e.to_dict()
    redef = redefinitions(_manifests(args)).get(e.name)
    if redef is not None:
        d["redefined_by"] = redef[0]
        print(f"note: dataset {e.name!r} is redefined by {redef[0]} (replacing {redef[1]})", file=sys.stderr)
    d["cached"] = is_cached(e, args.data_dir)
    d["path"] = str(dataset_path(e.name, args.data_dir, _manifests(args)))
    if args.json:
        json.dump(d, sys.stdout, indent=1)
        print()
        return 0
    for key in (
        "name",
        "title",
        "source",
        "modality",
        "task",
        "dims",
        "license",
        "homepage",
        "loader",
        "path",
        "cached",
    ):
        if d.get(key) not in (None, ""):
            print(f"{key:>9}: {d[key]}")
    if d["labels"]:
        print(f"{'labels':>9}: {', '.join(d['labels'])}")
    if d["splits"]:
        print(f"{'splits':>9}: {', '.join(f'{k}={v}' for k, v in d['splits'].items())}")
    if d["citation"]:
        print(f"{'citation':>9}: {d['citation']}")
    for f in d["files"]:
        hashes = ", ".join(f"{a}:{f[a]}" for a in ("md5", "sha1", "sha256") if a in f)
        size = f" ({f['size']} bytes)" if "size" in f else ""
        print(f"{'file':>9}: {f['filename']}{size} {hashes}")
        for u in f["urls"]:
            print(f"{'':>11}{u}")
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    from ..data.fetcher import fetch

    for name in args.names:
        path = fetch(
            name,
            data_dir=args.data_dir,
            mirrors=args.mirror or None,
            manifests=_manifests(args),
            extract=not args.no_extract,
            retries=args.retries,
            timeout=args.timeout,
            progressbar=not args.quiet,
            max_bytes=args.max_size,
        )
        print(path)
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from ..data.fetcher import verify

    records = verify(args.name, data_dir=args.data_dir, manifests=_manifests(args), deep=not args.quick)
    bad = [r for r in records if r["status"] != "ok" or r.get("extracted") is False]
    if args.json:
        json.dump(records, sys.stdout, indent=1)
        print()
    else:
        for r in records:
            extra = "" if "extracted" not in r else (" extracted" if r["extracted"] else " NOT EXTRACTED")
            print(f"{r['status']:<8} {r['dataset']}/{r['filename']}{extra}")
        if not records:
            print("nothing cached to verify")
    if bad:
        names = ", ".join(sorted({r["dataset"] for r in bad}))
        print(
            f"medimg: error: {len(bad)} file(s) missing, corrupt or not extracted; run `medimg data fetch {names}`",
            file=sys.stderr,
        )
        return 1
    return 0


def _cmd_pack(args: argparse.Namespace) -> int:
    from ..data.packs import pack

    print(pack(args.names, args.output, data_dir=args.data_dir, manifests=_manifests(args)))
    return 0


def _cmd_unpack(args: argparse.Namespace) -> int:
    from ..data.packs import unpack

    for name in unpack(
        args.file, data_dir=args.data_dir, manifests=_manifests(args), extract=not args.no_extract
    ):
        print(name)
    return 0


def _cmd_path(args: argparse.Namespace) -> int:
    from ..data.fetcher import dataset_path

    print(dataset_path(args.name, args.data_dir, _manifests(args)))
    return 0


def register(subparsers: Any) -> None:
    """Add ``medimg data`` and its sub-commands to the top-level parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help="cache folder (default: $MEDIMG_DATA or the platform cache dir 'medimg')",
    )
    common.add_argument(
        "--manifest",
        metavar="FILE",
        action="append",
        help="extra registry file of the same schema (repeatable; also $MEDIMG_REGISTRY)",
    )

    p = subparsers.add_parser(
        "data",
        help="dataset registry, downloads, verification and course packs",
        description="Registered datasets: list, inspect, fetch (mirrors, resume), verify, "
        "pack for offline use and unpack.",
    )
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    s = sub.add_parser("list", parents=[common], help="list registered datasets")
    s.add_argument(
        "--json", action="store_true", help="JSON list with name, license, cached and files (urls, hashes)"
    )
    s.add_argument("--source", choices=["remote", "package", "synthetic"], help="only this kind of dataset")
    s.add_argument("--offline", action="store_true",
                   help="catalogue of real images shipped inside installed packages (modality, shape, licence); "
                        "uses no network")
    s.set_defaults(func=_cmd_list)

    s = sub.add_parser("info", parents=[common], help="show one registry entry")
    s.add_argument("name")
    s.add_argument("--json", action="store_true", help="print the entry as JSON")
    s.set_defaults(func=_cmd_info)

    s = sub.add_parser("fetch", parents=[common], help="download, verify and extract datasets into the cache")
    s.add_argument("names", nargs="+", metavar="NAME")
    s.add_argument(
        "--mirror",
        action="append",
        metavar="URL",
        help="base URL tried before the origin (repeatable; default $MEDIMG_MIRROR)",
    )
    s.add_argument(
        "--retries", type=int, default=3, help="network retries per URL, each resuming (default 3)"
    )
    s.add_argument("--timeout", type=float, default=30.0, help="connect/read timeout in seconds (default 30)")
    s.add_argument("--no-extract", action="store_true", help="keep archives packed")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.add_argument(
        "--max-size",
        metavar="SIZE",
        default=None,
        help="cap for files whose registry entry has no size, e.g. 20G (default $MEDIMG_MAX_DOWNLOAD or 50G)",
    )
    s.set_defaults(func=_cmd_fetch)

    s = sub.add_parser("verify", parents=[common], help="re-hash cached files against the registry")
    s.add_argument("name", nargs="?", help="one dataset (default: every dataset with cached files)")
    s.add_argument("--quick", action="store_true", help="trust verification stamps of unchanged files")
    s.add_argument("--json", action="store_true", help="one JSON record per file")
    s.set_defaults(func=_cmd_verify)

    s = sub.add_parser("pack", parents=[common], help="write an offline course pack of cached datasets")
    s.add_argument("names", nargs="+", metavar="NAME")
    s.add_argument("-o", "--output", required=True, metavar="FILE", help="pack file to write")
    s.set_defaults(func=_cmd_pack)

    s = sub.add_parser("unpack", parents=[common], help="verify a course pack and install it into the cache")
    s.add_argument("file", metavar="FILE")
    s.add_argument("--no-extract", action="store_true", help="keep archives packed")
    s.set_defaults(func=_cmd_unpack)

    s = sub.add_parser("twin", help="write format twins: tiny files in datasets' real layouts, and their manifest",
                       description="Write a tiny file set in each dataset's exact published layout and format "
                                   "(generated shapes, not real images) plus OUT/twins.yaml, a manifest that "
                                   "redefines the datasets with the twins' URLs and sha256. Serve OUT (e.g. "
                                   "`python -m http.server -d OUT`) and pass --base-url, or use the file:// URLs.")
    s.add_argument("names", nargs="+", metavar="NAME")
    s.add_argument("-o", "--out", required=True, metavar="DIR", help="folder for the twins and twins.yaml")
    s.add_argument("--base-url", metavar="URL", help="URL the folder will be served at (default: file:// URLs)")
    s.add_argument("-n", type=int, default=None, help="training items per dataset (per class for MedNIST)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_cmd_twin)

    s = sub.add_parser("path", parents=[common], help="print the cache folder of a dataset")
    s.add_argument("name")
    s.set_defaults(func=_cmd_path)
