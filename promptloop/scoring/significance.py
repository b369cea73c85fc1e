"""Paired comparisons of two prompt versions on the same cases.

Each case is passed or failed by each version (with repeats: its pass rate ≥ 0.5).
Only the discordant cases carry information; an exact one-sided sign test (McNemar's
exact test) on them says how likely the observed regressions are under "no difference".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

Z_95 = 1.959964  # two-sided 95 %


def wilson(passed: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion passed/n ((0, 1) when n is 0)."""
    if n == 0:
        return 0.0, 1.0
    p = passed / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def sign_test(worse: int, better: int) -> float:
    """P(at least ``worse`` of the discordant pairs go against the new version | no real difference)."""
    n = worse + better
    if n == 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(worse, n + 1)) / 2 ** n


@dataclass
class Paired:
    """Case-by-case classification of a new version against a base version."""

    fixed: list[str] = field(default_factory=list)
    regressed: list[str] = field(default_factory=list)
    still_failing: list[str] = field(default_factory=list)
    still_passing: list[str] = field(default_factory=list)
    # Fixed or regressed cases whose change rests on a judge verdict the judge's own repeated calls split on:
    # within its noise, so they are shown but never counted as evidence (not in the sign test, not in an
    # allowance, not as a fix).
    noisy: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.fixed) + len(self.regressed) + len(self.still_failing) + len(self.still_passing)

    @property
    def settled_fixed(self) -> list[str]:
        return [i for i in self.fixed if i not in self.noisy]

    @property
    def settled_regressed(self) -> list[str]:
        return [i for i in self.regressed if i not in self.noisy]

    @property
    def p_worse(self) -> float:
        """One-sided p-value that the new version is worse (small = confident regression), from the changes
        that are not within the judge's noise."""
        return sign_test(len(self.settled_regressed), len(self.settled_fixed))

    @property
    def delta(self) -> float:
        return (len(self.fixed) - len(self.regressed)) / self.n if self.n else 0.0


def pair(base: dict[str, float], new: dict[str, float], threshold: float = 0.5,
         unsettled: set[str] | frozenset[str] = frozenset()) -> Paired:
    """Classify the cases both versions were scored on; values are per-case pass rates. A change of a case in
    ``unsettled`` (its judge verdict split on either side) is marked noisy."""
    out = Paired()
    for cid in base:
        if cid not in new:
            continue
        was, now = base[cid] >= threshold, new[cid] >= threshold
        if was and now:
            out.still_passing.append(cid)
        elif was:
            out.regressed.append(cid)
        elif now:
            out.fixed.append(cid)
        else:
            out.still_failing.append(cid)
        if was != now and cid in unsettled:
            out.noisy.append(cid)
    return out
