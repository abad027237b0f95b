"""``medimg labextension``: install the prebuilt JupyterLab/Notebook front end into this environment, or show it."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``labextension`` sub-command."""
    p = sub.add_parser("labextension", help="install or show the course's JupyterLab extension",
                       description="The course navigator, status bar item, Check my work and dataset panel for "
                                   "JupyterLab 4 and Notebook 7 (prebuilt; no node needed).")
    lsub = p.add_subparsers(dest="labextension_command", metavar="ACTION")
    inst = lsub.add_parser("install", help="link the prebuilt front end into this environment and enable the "
                                           "server extension (what an editable install needs; a wheel does it itself)")
    inst.add_argument("--copy", action="store_true", help="copy instead of linking to the source tree")
    inst.add_argument("--overwrite", action="store_true", help="replace a folder installed by a wheel")
    inst.add_argument("--prefix", default=None, help="environment prefix (default: this Python's sys.prefix)")
    inst.set_defaults(func=_install)
    st = lsub.add_parser("status", help="where the front end is installed and whether the server extension is on")
    st.add_argument("--json", action="store_true", help="print JSON")
    st.set_defaults(func=_status)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def _install(args: argparse.Namespace) -> int:
    from ..server.install import install_labextension

    out = install_labextension(args.prefix, copy=args.copy, overwrite=args.overwrite)
    print(f"front end: {out['labextension']}\nserver extension enabled: {out['server_config']}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from ..server.install import labextension_status

    st = labextension_status()
    if args.json:
        print(json.dumps(st, indent=2))
    else:
        where = st["path"] + (" (link to the source tree)" if st["symlink"] else "") if st["installed"] else "not installed"
        print(f"{st['name']} {st['version'] or ''}: {where}; server extension "
              f"{'enabled' if st['server_extension'] else 'NOT enabled'}")
    return 0 if st["installed"] and st["server_extension"] else 1
