"""IPython extension: ``%load_ext medimg_kernel`` adds the ``%medimg`` line magic.

``%medimg env`` prints the environment report, ``%medimg tier [NAME]`` shows or sets the compute tier
for this kernel, ``%medimg banner`` shows the one-glance banner (HTML in Jupyter, text elsewhere).
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import MedimgKernelError

__all__ = ["load_ipython_extension", "medimg_magic"]

_USAGE = "usage: %medimg env | tier [smoke|standard|full|auto] | banner"


def medimg_magic(line: str) -> Any:
    """Run one ``%medimg`` sub-command given as the magic's line; returns what Jupyter should display."""
    from ..tiers import get_tier
    from .envinfo import banner, environment_report, format_report

    parts = line.split()
    if not parts:
        print(_USAGE)
        return None
    cmd, rest = parts[0], parts[1:]
    if cmd == "env":
        print(format_report(environment_report()))
        return None
    if cmd == "tier":
        if rest:
            try:
                tier = get_tier(rest[0])
            except MedimgKernelError as err:
                print(f"medimg: {err}")
                return None
            os.environ["MEDIMG_TIER"] = tier.name
            print(f"tier set to {tier.name}: {tier.description}")
        else:
            tier = get_tier()
            print(f"tier: {tier.name} ({tier.description})")
        return None
    if cmd == "banner":
        return banner()
    print(f"medimg: unknown sub-command {cmd!r}\n{_USAGE}")
    return None


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%medimg`` in ``ipython``."""
    ipython.register_magic_function(medimg_magic, magic_kind="line", magic_name="medimg")
