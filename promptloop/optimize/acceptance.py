"""The acceptance rule: when a scored candidate may replace the prompt. Pure functions, no I/O."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from promptloop.scoring.significance import Paired, pair

if TYPE_CHECKING:
    from promptloop.optimize.outcome import Scored
    from promptloop.scoring.evaluate import CaseResult


def _shown(case_id: str, seed: int) -> bool:
    return int(hashlib.sha256(f"{seed}:{case_id}".encode()).hexdigest(), 16) % 2 == 0


def split_failures(ids: list[str], seed: int = 0) -> tuple[list[str], list[str]]:
    """Deterministic half split; each side gets at least one case when there are two or more."""
    shown = [i for i in ids if _shown(i, seed)]
    held = [i for i in ids if not _shown(i, seed)]
    if len(ids) >= 2 and not shown:
        shown, held = held[:1], held[1:]
    if len(ids) >= 2 and not held:
        shown, held = shown[1:], shown[:1]
    if len(ids) == 1:
        shown, held = [], ids[:]
    return shown, held


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def accept(rate: float, base_rate: float, paired: Paired, fixed_failures: list[str], critical: list[str], *,
           alpha: float, tolerance: float) -> tuple[str, str]:
    """``(status, reason)``: accepted only if it fixes held-out failures, breaks no critical case,
    shows no significant regression, loses no more than ``tolerance`` and beats the baseline."""
    if critical:
        return "not-accepted", f"breaks critical case(s) {', '.join(critical)}"
    if not fixed_failures:
        return "not-accepted", "fixes none of the held-out failures"
    if paired.regressed and paired.p_worse < alpha:
        return "not-accepted", (f"{len(paired.regressed)} regressions, significant "
                                f"(p={paired.p_worse:.3f} < {alpha})")
    if rate < base_rate - tolerance:
        return "not-accepted", f"pass rate drops {base_rate:.2f} -> {rate:.2f}"
    if rate <= base_rate:
        return "not-accepted", f"no better than the baseline ({rate:.2f} <= {base_rate:.2f})"
    return "accepted", (f"fixes {len(fixed_failures)} held-out failure(s); {len(paired.fixed)} fixed, "
                        f"{len(paired.regressed)} regressed on the golden set")


def per_call_usage(results: list[CaseResult]) -> tuple[float | None, float | None]:
    """(tokens, USD) per call of a candidate's full evaluation; USD None when no call was priced."""
    if not results:
        return None, None
    tokens = sum(r.input_tokens + r.output_tokens for r in results) / len(results)
    costs = [r.cost_usd for r in results if r.cost_usd is not None]
    return tokens, (sum(costs) / len(results) if costs else None)


def choose(challenger: Scored, best: Scored | None, prefer_cheaper: bool, alpha: float) -> str | None:
    """Why ``challenger`` becomes the winner over ``best`` (both accepted), or None. With ``prefer_cheaper``,
    two candidates whose pass rates do not differ significantly (sign test both ways, paired on their common
    cases) are told apart by cost per call (tokens where no price is known)."""
    if best is None:
        return "the highest pass rate"
    higher = (challenger.full_rate or 0) > (best.full_rate or 0)
    if not prefer_cheaper:
        return "the highest pass rate" if higher else None
    common = set(challenger.rates) & set(best.rates)
    a, b = {i: best.rates[i] for i in common}, {i: challenger.rates[i] for i in common}
    if pair(a, b).p_worse < alpha:
        return None  # significantly worse
    if pair(b, a).p_worse < alpha:
        return "the highest pass rate (significantly higher)"
    price = (lambda s: s.cost_per_call) if challenger.cost_per_call is not None and best.cost_per_call is not None \
        else (lambda s: s.tokens_per_call)
    mine, theirs = price(challenger), price(best)
    if mine is not None and theirs is not None and mine < theirs:
        return "cheaper per call at a pass rate not significantly different (--prefer-cheaper)"
    return None
