"""The ``medimg`` command line: one sub-command module per concern.

Each module in ``SUBCOMMANDS`` exposes ``register(subparsers)``, which adds its parser and sets
``func`` (a callable taking the parsed args and returning the exit code).

User errors never print a traceback: an error derived from
:class:`~medimg_kernel.errors.MedimgKernelError`, a missing/unreadable file (``FileNotFoundError``,
``PermissionError``, ...) or a bad argument ends the command with one line ``medimg: error: ...`` on stderr
and exit code 2. Anything else is a bug in the kit: its traceback is printed, then one line saying how to
report it, and the exit code is 1. Log lines of the package are printed as ``medimg: <level>: ...``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from ..errors import MedimgKernelError

# order = order in --help
SUBCOMMANDS = ("env", "kernel", "course", "data", "train", "bench", "grade", "labextension", "deploy")


#: exit code of a user error (bad argument, missing or corrupt input), as argparse uses
USER_ERROR = 2
#: where to report a bug
ISSUES_URL = "the course kit's issue tracker (see the README) or your instructor"

# user errors that are not the package's own: a path that is missing, a folder, or not readable
_USER_OS_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


def one_line(text: object) -> str:
    """Collapse a (possibly multi-line) message onto one line."""
    return " ".join(str(text).split())


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``medimg: error: <command>: <message> (see <command> --help)``."""

    def error(self, message: str) -> NoReturn:
        where = "" if self.prog == "medimg" else f"{self.prog}: "
        self.exit(USER_ERROR, f"medimg: error: {where}{one_line(message)} (see `{self.prog} --help`)\n")


def _user_message(err: BaseException) -> str:
    cli = getattr(err, "cli_message", None)  # errors that carry advice for the command line
    text = cli() if callable(cli) else str(err)
    if isinstance(err, OSError) and not isinstance(err, MedimgKernelError):
        name = err.filename if err.filename is not None else ""
        text = f"{name}: {err.strerror or err}" if name else str(err)
    return one_line(text) or type(err).__name__


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available sub-command."""
    from .. import __version__

    parser = _Parser(
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
    from .._log import ensure_handler

    ensure_handler()
    try:
        return int(args.func(args) or 0)
    except (MedimgKernelError, *_USER_OS_ERRORS) as err:
        sys.stdout.flush()
        print(f"medimg: error: {_user_message(err)}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt:
        print("medimg: interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug: show everything, then say how to report it
        import platform
        import traceback

        from .. import __version__

        traceback.print_exc()
        print(
            f"medimg: internal error: this is a bug in medimg {__version__} (Python {platform.python_version()}), "
            f"not in your input; please report it to {ISSUES_URL} with the command you ran and the traceback above",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
