"""The package's log output: ``medimg: <level>: <message>`` lines on stderr, unless the application set up logging.

Library modules log through ``logging.getLogger(__name__)`` (all under ``medimg_kernel``). Where nothing
is configured (a notebook, the ``medimg`` command) Python would print warnings bare, without saying
where they come from; :func:`ensure_handler` gives them the package prefix, so a log line and the
final ``medimg: error: ...`` line read alike. An application that configured logging keeps its own setup.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["PREFIX", "ensure_handler"]

PREFIX = "medimg"
_HANDLER_NAME = "medimg-default"


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{PREFIX}: {record.levelname.lower()}: {record.getMessage()}"


def ensure_handler(level: int = logging.WARNING) -> logging.Logger:
    """Attach one prefixed stderr handler to the ``medimg_kernel`` logger if no handler would print its records."""
    logger = logging.getLogger("medimg_kernel")
    if any(h.get_name() == _HANDLER_NAME for h in logger.handlers):
        return logger
    if logger.handlers or logging.getLogger().handlers:
        return logger  # the application configured logging: leave it alone
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(_Formatter())
    handler.setLevel(level)
    # if the application configures logging later (e.g. `medimg train -v`), its handlers print instead
    handler.addFilter(lambda record: not logging.getLogger().handlers)
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
    return logger
