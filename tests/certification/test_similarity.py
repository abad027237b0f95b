"""The similarity check flags disguised copies and leaves independent correct solutions alone."""

from __future__ import annotations

import random
import re

from _codegen import STARTER, disguise, independent

from medimg_kernel.certification.similarity import DEFAULT_THRESHOLD, Submission, compare_submissions


def test_copies_flagged_independent_not():
    rng = random.Random(7)
    originals = [Submission(f"s{i:02d}", independent(rng)) for i in range(40)]
    copies = [Submission(f"c{i:02d}", disguise(originals[i].code, rng)) for i in range(20)]
    subs = originals + copies
    scores = {(p.a, p.b): p for p in compare_submissions(subs, STARTER)}

    def pair(x, y):
        return scores.get((x, y)) or scores[(y, x)]

    copied = [pair(f"s{i:02d}", f"c{i:02d}") for i in range(20)]
    caught = sum(p.flagged for p in copied) / len(copied)
    indep = [p for (a, b), p in scores.items() if a.startswith("s") and b.startswith("s")]
    false_flags = sum(p.flagged for p in indep) / len(indep)
    print(f"copies flagged {caught:.1%}; independent pairs flagged {false_flags:.2%} "
          f"(threshold {DEFAULT_THRESHOLD}); min copy score {min(p.score for p in copied):.2f}, "
          f"max independent {max(p.score for p in indep):.2f}")
    assert caught >= 0.95
    assert false_flags <= 0.05


def test_starter_code_alone_is_not_similar():
    subs = [Submission("x", STARTER), Submission("y", STARTER), Submission("z", STARTER + "\nz = 1\n")]
    assert all(not p.flagged for p in compare_submissions(subs, STARTER))


def test_renaming_alone_keeps_score_one():
    rng = random.Random(1)
    code = independent(rng)
    ren = re.sub(r"\b(arr|x|img|data|vals|res|out|tmp)\w*", "zz", code)
    [p] = compare_submissions([Submission("a", code), Submission("b", ren)])
    assert p.score > 0.9
