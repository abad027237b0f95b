"""``medimg kernel install``: install the "Python 3 (medimg)" Jupyter kernelspec."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``kernel`` sub-command."""
    p = sub.add_parser("kernel", help="manage the 'Python 3 (medimg)' Jupyter kernel",
                       description="Manage the course's Jupyter kernel.")
    ksub = p.add_subparsers(dest="kernel_command", metavar="ACTION")
    inst = ksub.add_parser("install", help="install the kernelspec (default: into this environment)",
                           description="Install the kernelspec 'Python 3 (medimg)': this Python, with the "
                                       "medimg IPython extension loaded and the course variables set.")
    where = inst.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="install for the current user (~/.local/share/jupyter)")
    where.add_argument("--sys-prefix", action="store_true", help="install into this environment (default)")
    where.add_argument("--prefix", help="install under this prefix")
    inst.add_argument("--shared-data", metavar="DIR", default=None,
                      help="give every user this course cache (e.g. read-only, prepared by the instructor); "
                           "default: each user's own cache, resolved when the kernel starts")
    inst.set_defaults(func=_install)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def _install(args: argparse.Namespace) -> int:
    from ..runtime.kernelspec import DISPLAY_NAME, install_kernelspec

    path = install_kernelspec(user=args.user, sys_prefix=args.sys_prefix, prefix=args.prefix,
                              shared_data=args.shared_data)
    where = f"shared course cache {args.shared_data}" if args.shared_data else "each user's own data cache"
    print(f"installed kernel '{DISPLAY_NAME}' at {path} ({where})")
    return 0
