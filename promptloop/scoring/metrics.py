"""Aggregates over case results: pass rate, label and field metrics, numbers, usage."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from promptloop.repo.assertion_types import TYPES
from promptloop.scoring.assertions import AGGREGATORS
from promptloop.scoring.evaluate import CaseResult


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@dataclass
class Summary:
    """Counts keep passed, failed and errored samples apart; metrics are over scored samples only."""

    cases: int
    samples: int
    passed: int
    errors: int
    failed: int = 0
    error_messages: list[str] = field(default_factory=list)  # distinct, first few
    metrics: dict[str, float | None] = field(default_factory=dict)
    labels: dict[str, dict[str, int]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)  # e.g. "tools": per tool, expected and right calls
    per_case: dict[str, float] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)

    @property
    def scored(self) -> int:
        return self.samples - self.errors

    @property
    def pass_rate(self) -> float:
        return self.passed / self.scored if self.scored else 0.0

    @property
    def first_error(self) -> str | None:
        return self.error_messages[0] if self.error_messages else None

    @property
    def measured(self) -> dict[str, float]:
        """The metrics that have a value (a metric whose check was never run has none)."""
        return {k: v for k, v in self.metrics.items() if v is not None}


def per_case_rates(results: list[CaseResult]) -> dict[str, float]:
    """Each case's pass rate over its scored samples; a case whose every call failed has none."""
    by: dict[str, list[bool]] = {}
    for r in results:
        if not r.error:
            by.setdefault(r.case_id, []).append(r.passed)
    return {k: sum(v) / len(v) for k, v in by.items()}


def summarise(all_results: list[CaseResult]) -> Summary:
    by_case: dict[str, list[CaseResult]] = defaultdict(list)
    for r in all_results:
        by_case[r.case_id].append(r)
    results = [r for r in all_results if not r.error]  # errors are counted, never scored
    s = Summary(cases=len(by_case), samples=len(all_results), passed=sum(r.passed for r in results),
                errors=len(all_results) - len(results), failed=sum(1 for r in results if not r.passed),
                error_messages=list(dict.fromkeys(r.error for r in all_results if r.error))[:5])
    s.per_case = per_case_rates(results)
    s.metrics["pass_rate"] = s.pass_rate if results else None
    s.metrics["mean_score"] = sum(r.score for r in results) / len(results) if results else None

    for name in TYPES:  # in the types' order, so metrics are listed the same way in every report
        agg = AGGREGATORS.get(name)
        rows = [x for r in results for x in r.results if x.type == name] if agg else []
        if agg and rows:
            done = agg.aggregate(rows)
            s.metrics.update(done.metrics)
            if done.labels is not None:
                s.labels = done.labels
            s.details.update(done.details)

    latencies = [r.latency_s for r in results]
    costs = [r.cost_usd for r in all_results if r.cost_usd is not None]
    s.usage = {
        "input_tokens": sum(r.input_tokens for r in all_results),
        "output_tokens": sum(r.output_tokens for r in all_results),
        "cost_usd": sum(costs) if costs else None,
        "latency_p50_s": percentile(latencies, 0.5),
        "latency_p95_s": percentile(latencies, 0.95),
        "cached": sum(1 for r in all_results if r.cached),
    }
    return s


LOWER_IS_BETTER = {m for a in AGGREGATORS.values() for m in a.lower_is_better}  # thresholds are ceilings


def check_thresholds(summary: Summary, thresholds: dict[str, float]) -> list[str]:
    """The thresholds the run missed, as readable lines."""
    missed = []
    for name, limit in thresholds.items():
        value = summary.metrics.get(name)
        if value is None:
            missed.append(f"{name}: no value to compare with {limit:g}")
        elif name in LOWER_IS_BETTER and value > limit:
            missed.append(f"{name} {value:.3f} > {limit:g}")
        elif name not in LOWER_IS_BETTER and value < limit:
            missed.append(f"{name} {value:.3f} < {limit:g}")
    return missed
