"""The acceptance rule: when a scored candidate may replace the prompt. Pure functions, no I/O."""

from __future__ import annotations

import hashlib

from promptloop.scoring.significance import Paired


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
