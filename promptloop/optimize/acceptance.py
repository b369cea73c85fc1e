"""The acceptance rule: when a scored candidate may replace the prompt. Pure functions, no I/O."""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, Any

from promptloop.scoring.significance import Paired, pair, sign_test, wilson

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


def held_out_test_ids(ids: list[str], seed: int, share: float = 0.2, minimum: int = 20) -> list[str]:
    """About ``share`` of the cases, by a stable hash, once there are ``minimum`` of them (fewer are all
    needed to choose); trace cases are never in it."""
    golden = [i for i in ids if not i.startswith("trace:")]
    if len(golden) < minimum:
        return []
    ranked = sorted(golden, key=lambda i: hashlib.sha256(f"test:{seed}:{i}".encode()).hexdigest())
    return ranked[: max(1, int(len(golden) * share))]


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def accept(rate: float, base_rate: float, paired: Paired, fixed_failures: list[str], critical: list[str], *,
           alpha: float, tolerance: float, held_out: bool = True) -> tuple[str, str]:
    """``(status, reason)``: accepted only if it fixes failures (``held_out``: of those the proposer was not
    shown), breaks no critical case, shows no significant regression, loses no more than ``tolerance`` and
    beats the baseline."""
    which = "held-out failure" if held_out else "failure"
    if critical:
        return "not-accepted", f"breaks critical case(s) {', '.join(critical)}"
    if not fixed_failures:
        return "not-accepted", f"fixes none of the {which}s"
    if paired.settled_regressed and paired.p_worse < alpha:
        return "not-accepted", (f"{len(paired.settled_regressed)} regressions, significant "
                                f"(p={paired.p_worse:.3f} < {alpha})")
    if paired.noisy and len(paired.settled_fixed) <= len(paired.settled_regressed):
        return "not-accepted", (f"its gain rests on {len(paired.noisy)} judge verdict(s) the judge's own repeated "
                                "calls split on: within its noise")
    if rate < base_rate - tolerance:
        return "not-accepted", f"pass rate drops {base_rate:.2f} -> {rate:.2f}"
    if rate <= base_rate:
        return "not-accepted", f"no better than the baseline ({rate:.2f} <= {base_rate:.2f})"
    noise = f"; {len(paired.noisy)} within the judge's noise, not counted" if paired.noisy else ""
    return "accepted", (f"fixes {len(fixed_failures)} {which}(s); {len(paired.settled_fixed)} fixed, "
                        f"{len(paired.settled_regressed)} regressed on the golden set{noise}")


def per_call_usage(results: list[CaseResult]) -> tuple[float | None, float | None]:
    """(tokens, USD) per call of a candidate's full evaluation; USD None when no call was priced."""
    if not results:
        return None, None
    tokens = sum(r.input_tokens + r.output_tokens for r in results) / len(results)
    costs = [r.cost_usd for r in results if r.cost_usd is not None]
    return tokens, (sum(costs) / len(results) if costs else None)


def choose(challenger: Scored, best: Scored | None, prefer_cheaper: bool, alpha: float) -> str | None:
    """Why ``challenger`` becomes the winner over ``best`` (both accepted), or None. The best so far stays unless
    the challenger is significantly better (sign test, paired on their common cases): on a few dozen cases a
    higher rate alone is as often luck as not. Within the noise the simpler one wins (shorter prompt text), or
    with ``prefer_cheaper`` the cheaper per call (tokens where no price is known)."""
    if best is None:
        return "the highest pass rate"
    common = set(challenger.rates) & set(best.rates)
    a, b = {i: best.rates[i] for i in common}, {i: challenger.rates[i] for i in common}
    if pair(a, b).p_worse < alpha:
        return None  # significantly worse
    if pair(b, a).p_worse < alpha:
        return "the highest pass rate (significantly higher)"
    if prefer_cheaper:
        price = (lambda s: s.cost_per_call) if challenger.cost_per_call is not None and \
            best.cost_per_call is not None else (lambda s: s.tokens_per_call)
        mine, theirs = price(challenger), price(best)
        if mine is not None and theirs is not None and mine < theirs:
            return "cheaper per call at a pass rate not significantly different (--prefer-cheaper)"
        return None
    if (challenger.full_rate or 0) >= (best.full_rate or 0) and size(challenger) < size(best):
        return "simpler (shorter) at a pass rate not significantly different"
    return None


def size(s: Scored) -> int:
    """How much prompt a candidate is: the characters of its messages, demonstrations included."""
    return sum(len(str(m.get("content") or "")) for m in s.candidate.messages)


MIN_EVIDENCE = 20  # held-out cases below which no improvement is claimed, whatever the figures


def held_out_evidence(before: dict[str, float], after: dict[str, float], alpha: float) -> dict[str, Any]:
    """What the held-out test part (cases never used to choose) says about the winner: both rates with 95%
    intervals, the paired sign test of an improvement, and a plain verdict — confirmed, not confirmed, or too
    few cases to tell (with roughly how many would settle a difference of this size)."""
    ids = [i for i in before if i in after]
    p = pair({i: before[i] for i in ids}, {i: after[i] for i in ids})
    n, better = len(ids), len(p.fixed) - len(p.regressed)
    p_better = sign_test(len(p.fixed), len(p.regressed))
    base_k, win_k = sum(before[i] >= 0.5 for i in ids), sum(after[i] >= 0.5 for i in ids)
    out: dict[str, Any] = {"cases": n, "baseline": base_k / n if n else None, "winner": win_k / n if n else None,
                           "baseline_interval": list(wilson(base_k, n)), "winner_interval": list(wilson(win_k, n)),
                           "fixed": len(p.fixed), "regressed": len(p.regressed), "p_better": p_better,
                           "confirmed": n >= MIN_EVIDENCE and better > 0 and p_better < alpha}
    if out["confirmed"]:
        out["verdict"] = f"the improvement holds on them (sign test p={p_better:.3f})"
    elif n < MIN_EVIDENCE:
        many = needed(len(p.fixed), len(p.regressed), n, alpha)
        out["verdict"] = (f"{n} held-out case(s) are too few to confirm an improvement; add cases to the golden "
                          "set" + ("" if many == "more" else f" (at least {many} would settle a difference of "
                                                             "this size)"))
    else:
        out["verdict"] = f"they do not confirm an improvement (sign test p={p_better:.3f}): treat it as unproven"
    return out


def resolution(n: int, alpha: float, gain: float = 0.05) -> str:
    """What ``n`` paired cases can tell apart, when that is coarser than ``gain``; else "". A sign test calls a
    difference significant only once enough cases flip, so on a small golden set most comparisons are a coin
    flip: the smallest gain it can confirm is that many flips, all one way, and confirming ``gain`` takes at
    least that many flips in ``gain`` of the cases (both bounds assume no flip the other way)."""
    flips = next(k for k in range(1, 64) if sign_test(k, 0) < alpha)
    if n <= 0 or flips / n <= gain:
        return ""
    if n < flips:
        return (f"on {n} cases no candidate can be told from another by more than luck: that takes at least {flips} "
                f"cases the one passes and the other fails; telling a {100 * gain:.0f}-point gain from luck needs "
                f"at least {math.ceil(flips / gain - 1e-9)} cases")
    return (f"on {n} cases one candidate is told from another by more than luck only if it passes at least "
            f"{flips} the other fails and fails none the other passes (+{100 * flips / n:.0f} points); telling a "
            f"{100 * gain:.0f}-point gain from luck needs at least {math.ceil(flips / gain - 1e-9)} cases")


def needed(fixed: int, regressed: int, n: int, alpha: float) -> str:
    """Roughly how many held-out cases would make a difference of this size significant."""
    if fixed <= regressed or not n:
        return "more"
    for total in range(max(n, MIN_EVIDENCE), 20_001, 5):
        scale = total / n
        if sign_test(round(fixed * scale), round(regressed * scale)) < alpha:
            return str(total)
    return "thousands of"
