"""``medimg env``: print the environment report (text, or JSON with ``--json``); ``--recalibrate`` measures the
precision choices again."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``env`` sub-command."""
    p = sub.add_parser("env", help="show versions, device/precision policy, tier, data folder, widgets, kernel",
                       description="Show the environment the course runs in. Always exits 0.")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--recalibrate", action="store_true",
                   help="forget this machine's measured precision choices and measure the representative "
                        "model of each task again (about 10 s each)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..runtime.envinfo import environment_report, format_report

    if args.recalibrate:
        from ..train.calibrate import recalibrate

        for cal in recalibrate():
            if not args.json:
                print(f"measured {cal.key.split('||', 1)[1]}: {cal.choice} ({cal.seconds:.1f} s)")
    report = environment_report()
    print(json.dumps(report, indent=2, default=str) if args.json else format_report(report))
    return 0
