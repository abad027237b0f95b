"""The ``medimg`` command line: one sub-command module per concern.

Each module in ``SUBCOMMANDS`` exposes ``register(subparsers)``, which adds its parser and sets
``func`` (a callable taking the parsed args and returning the exit code). Errors derived from
:class:`~medimg_kernel.errors.MedimgKernelError` end the command with a one-line reason and exit 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..errors import MedimgKernelError

# order = order in --help
SUBCOMMANDS = ("env", "kernel", "course", "data", "train", "bench", "grade")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available sub-command."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="medimg",
        description="medimg course kit: environment, kernel, course runs, data, training, benchmarks, grading.",
    )
    parser.add_argument("--version", action="version", version=f"medimg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as err:
            if err.name and err.name.endswith(f"cli.{name}"):
                continue  # sub-command not installed in this build
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``medimg`` command line and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except MedimgKernelError as err:
        print(f"medimg: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("medimg: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
