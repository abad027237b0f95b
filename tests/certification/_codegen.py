"""Generated student solutions for the similarity check: independent ones and disguised copies.

Independent solutions come from a grammar of real alternatives (vectorised vs loop, clip vs where, sum
vs count_nonzero, ...) with each student's own names and layout. A copy takes another student's code,
renames every variable, reorders the functions and reformats the text. Used by the tests and by
benchmarks/certification_bench.py.
"""

from __future__ import annotations

import re

STARTER = '''def to_hu(stored, slope, intercept):
    """Stored values to Hounsfield units."""
    # YOUR CODE HERE
    raise NotImplementedError()
'''

WORDS = ["arr", "x", "img", "data", "vals", "a", "b", "res", "out", "tmp", "m", "n", "lo", "hi", "mask",
         "pred", "truth", "tp", "fp", "fn", "tn", "acc", "total", "k", "idx", "vec", "sig", "q", "z", "w"]


def _names(rng, n):
    pool = WORDS[:]
    rng.shuffle(pool)
    return [f"{w}{rng.choice(['', '_', '1', 's', '_v'])}" for w in pool[:n]]


def _hu(rng):
    v = _names(rng, 3)
    return rng.choice([
        f"def to_hu(stored, slope, intercept):\n    {v[0]} = np.asarray(stored, dtype=float)\n"
        f"    return {v[0]} * slope + intercept\n",
        "def to_hu(stored, slope, intercept):\n    return np.add(np.multiply(stored, slope, dtype=np.float64), "
        "intercept)\n",
        f"def to_hu(stored, slope, intercept):\n    {v[0]} = np.array(stored).astype(np.float64)\n"
        f"    {v[1]} = {v[0]} * float(slope)\n    {v[1]} += intercept\n    return {v[1]}\n",
        f"def to_hu(stored, slope, intercept):\n    {v[2]} = []\n    for {v[0]} in np.ravel(stored):\n"
        f"        {v[2]}.append(float({v[0]}) * slope + intercept)\n"
        f"    return np.reshape({v[2]}, np.shape(stored))\n",
    ])


def _window(rng):
    v = _names(rng, 3)
    lo = rng.choice([f"{v[0]} = level - width / 2", f"{v[0]} = level - 0.5 * width",
                     f"{v[0]}, {v[1]} = level - width / 2, level + width / 2"])
    body = rng.choice([
        f"    return np.clip((np.asarray(hu, float) - {v[0]}) / width, 0, 1)\n",
        f"    {v[2]} = (np.asarray(hu) - {v[0]}) / float(width)\n    {v[2]}[{v[2]} < 0] = 0\n"
        f"    {v[2]}[{v[2]} > 1] = 1\n    return {v[2]}\n",
        f"    {v[2]} = np.minimum(np.maximum(hu, {v[0]}), {v[0]} + width)\n    return ({v[2]} - {v[0]}) / width\n",
        f"    return np.where(hu <= {v[0]}, 0.0, np.where(hu >= {v[0]} + width, 1.0, (hu - {v[0]}) / width))\n",
    ])
    return f"def window(hu, level, width):\n    {lo}\n{body}"


def _dice(rng):
    v = _names(rng, 4)
    inter = rng.choice([f"{v[2]} = np.logical_and({v[0]}, {v[1]}).sum()",
                        f"{v[2]} = np.count_nonzero({v[0]} & {v[1]})",
                        f"{v[2]} = float(({v[0]} * {v[1]}).sum())"])
    denom = rng.choice([f"{v[3]} = {v[0]}.sum() + {v[1]}.sum()",
                        f"{v[3]} = np.count_nonzero({v[0]}) + np.count_nonzero({v[1]})",
                        f"{v[3]} = int({v[0]}.sum()) + int({v[1]}.sum())"])
    empty = rng.choice([f"    if {v[3]} == 0:\n        return 1.0\n", f"    if not {v[3]}:\n        return 1.0\n"])
    ret = rng.choice([f"    return 2 * {v[2]} / {v[3]}\n", f"    return float(2.0 * {v[2]} / {v[3]})\n"])
    conv = rng.choice([f"    {v[0]}, {v[1]} = np.asarray(a, bool), np.asarray(b, bool)\n",
                       f"    {v[0]} = np.array(a) > 0\n    {v[1]} = np.array(b) > 0\n"])
    return f"def dice(a, b):\n{conv}    {inter}\n    {denom}\n{empty}{ret}"


def _sens_spec(rng):
    v = _names(rng, 6)
    pred = rng.choice([f"{v[0]} = np.asarray(p) >= thr", f"{v[0]} = (np.array(p) >= thr).astype(int)"])
    if rng.random() < 0.5:
        counts = (f"    {v[1]} = np.sum(({v[0]} == 1) & (y == 1))\n    {v[2]} = np.sum(({v[0]} == 0) & (y == 1))\n"
                  f"    {v[3]} = np.sum(({v[0]} == 0) & (y == 0))\n    {v[4]} = np.sum(({v[0]} == 1) & (y == 0))\n")
    else:
        counts = (f"    {v[1]} = {v[2]} = {v[3]} = {v[4]} = 0\n    for {v[5]}, t in zip({v[0]}, y):\n"
                  f"        if t and {v[5]}:\n            {v[1]} += 1\n        elif t:\n            {v[2]} += 1\n"
                  f"        elif {v[5]}:\n            {v[4]} += 1\n        else:\n            {v[3]} += 1\n")
    ret = rng.choice([f"    return {v[1]} / ({v[1]} + {v[2]}), {v[3]} / ({v[3]} + {v[4]})\n",
                      f"    sens = {v[1]} / max({v[1]} + {v[2]}, 1)\n    spec = {v[3]} / max({v[3]} + {v[4]}, 1)\n"
                      f"    return sens, spec\n"])
    yline = rng.choice(["    y = np.asarray(y)\n", "    y = np.array(y).astype(int)\n"])
    return f"def sens_spec(y, p, thr=0.5):\n{yline}    {pred}\n{counts}{ret}"


def independent(rng) -> str:
    funcs = [_hu(rng), _window(rng), _dice(rng), _sens_spec(rng)]
    if rng.random() < 0.5:
        funcs = [f.replace("    ", "    ", 1) + "\n" for f in funcs]
    return "import numpy as np\n\n\n" + "\n\n".join(funcs)


def disguise(code: str, rng) -> str:
    """Rename every local name, reorder the functions, reformat and comment: a copy trying to hide."""
    header, *funcs = re.split(r"\n(?=def )", code)
    rng.shuffle(funcs)
    out = header + "\n" + "\n\n\n".join(f"# my solution\n{f.strip()}" for f in funcs) + "\n"
    keep = {"def", "return", "for", "in", "if", "elif", "else", "and", "not", "or", "import", "as", "np",
            "float", "int", "max", "zip", "to_hu", "window", "dice", "sens_spec", "True", "False", "bool"}
    names = sorted({n for n in re.findall(r"\b[a-z_][a-z0-9_]*\b", out) if n not in keep}, key=len, reverse=True)
    mapping = {n: f"q{rng.randrange(10**6)}_{i}" for i, n in enumerate(names)}
    # attributes (np.sum) are not names a student picks: rename only what is not after a dot
    out = re.sub(r"(?<![.\w])([a-z_][a-z0-9_]*)\b",
                 lambda m: mapping.get(m.group(1), m.group(1)) if not m.group(0).startswith("#") else m.group(0),
                 out)
    return out.replace("# q", "# ").replace(" = ", "  =  ").replace(", ", " , ")
