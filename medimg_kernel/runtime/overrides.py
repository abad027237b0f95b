"""``--set KEY=VALUE`` for headless course runs: parse, scope and check parameter overrides before any work.

Values parse as YAML (``--set n_train=48 --set "options={n: 600}"``). A key may be scoped to one lesson with
its number or file stem (``--set 05:n_source=60``); an unscoped key applies to every notebook of the run.
Each notebook's known keys are read from its ``register_lesson_params(...)`` call without running it, so a key
a lesson does not know fails before the first notebook starts, with the keys that lesson does know.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["parse_sets", "lesson_params_of", "overrides_for", "check_scopes"]

_EXP_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _numbers(v: Any) -> Any:
    """YAML 1.1 reads ``1e-4`` (no dot) as a string: make such exponent forms floats, at any depth."""
    if isinstance(v, str) and _EXP_FLOAT.match(v):
        return float(v)
    if isinstance(v, list):
        return [_numbers(x) for x in v]
    if isinstance(v, dict):
        return {k: _numbers(x) for k, x in v.items()}
    return v


def parse_sets(items: list[str]) -> list[tuple[str | None, str, Any]]:
    """Parse ``[SCOPE:]KEY=VALUE`` strings into ``(scope, key, value)`` with YAML values."""
    import yaml

    out: list[tuple[str | None, str, Any]] = []
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r} must look like KEY=VALUE (or LESSON:KEY=VALUE)")
        lhs, raw = item.split("=", 1)
        scope, _, key = lhs.rpartition(":")
        key = key.strip()
        if not key.isidentifier():
            raise ConfigError(f"--set {item!r}: {key!r} is not a parameter name")
        if key == "tier":
            raise ConfigError("--set tier=... is not a parameter override: use --tier NAME")
        try:
            value = _numbers(yaml.safe_load(raw)) if raw.strip() else None
        except yaml.YAMLError as err:
            first = str(err).splitlines()[0]
            raise ConfigError(f"--set {item!r}: the value is not valid YAML ({first}); quote it") from None
        try:
            json.dumps(value)
        except TypeError:
            raise ConfigError(f"--set {item!r}: use plain YAML values (numbers, strings, lists, maps)") from None
        out.append((scope.strip() or None, key, value))
    return out


def _code_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = []
    for c in nb.get("cells", []):
        if c.get("cell_type") == "code":
            src = "".join(c.get("source", []))
            # IPython magics and shell lines are not Python: blank them so ast can read the rest
            cells.append("\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in src.splitlines()))
    return cells


def lesson_params_of(path: str | Path) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """Return ``(lesson key, {tier: params})`` from a notebook's ``register_lesson_params`` call, read statically.

    A notebook without such a call gives ``(None, {})``: it knows the tier defaults only.
    """
    for src in _code_cells(Path(path)):
        if "register_lesson_params" not in src:
            continue
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
                    == "register_lesson_params" and len(node.args) >= 2):
                try:
                    return ast.literal_eval(node.args[0]), ast.literal_eval(node.args[1])
                except ValueError:
                    raise ConfigError(
                        f"{path}: register_lesson_params(...) must hold literal values for --set to check keys"
                    ) from None
    return None, {}


def _matches(scope: str, path: Path) -> bool:
    return path.stem == scope or path.stem.split("_", 1)[0] == scope


def overrides_for(path: str | Path, tier: str, sets: list[tuple[str | None, str, Any]]) -> dict[str, Any]:
    """Return the overrides that apply to notebook ``path``; a key it does not know raises ConfigError."""
    from ..tiers import known_keys

    path = Path(path)
    mine = {k: v for scope, k, v in sets if scope is None or _matches(scope, path)}
    if not mine:
        return {}
    lesson, params = lesson_params_of(path)
    known = known_keys(tier, params)
    unknown = sorted(set(mine) - set(known))
    if unknown:
        raise ConfigError(
            f"--set {', '.join(unknown)}: unknown to {path.name} in tier {tier!r}; "
            f"it knows: {', '.join(k for k in known if k != 'tier')}"
        )
    return mine


def check_scopes(paths: list[Path], sets: list[tuple[str | None, str, Any]]) -> None:
    """Raise ConfigError if a scoped ``--set`` names no notebook of the run."""
    for scope, key, _ in sets:
        if scope is not None and not any(_matches(scope, p) for p in paths):
            raise ConfigError(
                f"--set {scope}:{key}=...: no notebook of this run is {scope!r}; "
                f"use a lesson number or file stem from: {', '.join(p.stem for p in paths)}"
            )
