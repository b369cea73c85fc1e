"""Aggregates over case results: pass rate, label and field metrics, numbers, usage."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from promptloop.scoring.assertions import ratio
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

    label_rows = [x.extra for r in results for x in r.results if x.type == "label"]
    if label_rows:
        counts: dict[str, dict[str, int]] = defaultdict(lambda: {"tp": 0, "fp": 0, "fn": 0, "support": 0})
        correct = 0
        for row in label_rows:
            exp, pred = row.get("label_expected"), row.get("label_predicted")
            if exp is not None:
                counts[exp]["support"] += 1
            if pred is not None and pred == exp:
                counts[exp]["tp"] += 1
                correct += 1
            else:
                if exp is not None:
                    counts[exp]["fn"] += 1
                if pred is not None:
                    counts[pred]["fp"] += 1
        f1s = []
        for c in counts.values():
            p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
            rc = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
            f1s.append(2 * p * rc / (p + rc) if p + rc else 0.0)
        s.metrics["accuracy"] = correct / len(label_rows)
        s.metrics["macro_f1"] = sum(f1s) / len(f1s) if f1s else 0.0
        s.labels = {k: dict(v) for k, v in sorted(counts.items())}

    field_rows = [x.extra for r in results for x in r.results if x.type == "fields"]
    if field_rows:
        tp = sum(x.get("tp", 0) for x in field_rows)
        fp = sum(x.get("fp", 0) for x in field_rows)
        fn = sum(x.get("fn", 0) for x in field_rows)
        p, rc = ratio(tp, tp + fp, fn == 0), ratio(tp, tp + fn, fp == 0)
        s.metrics.update(field_precision=p, field_recall=rc, field_f1=2 * p * rc / (p + rc) if p + rc else 0.0)

    num_rows = [x.extra for r in results for x in r.results if x.type == "numeric" and "expected" in x.extra]
    if num_rows:
        errs = [x["error"] for x in num_rows if "error" in x]
        s.metrics["numeric_accuracy"] = sum(1 for r in results for x in r.results
                                            if x.type == "numeric" and x.passed) / len(num_rows)
        s.metrics["mae"] = sum(errs) / len(errs) if errs else None
        s.metrics["rmse"] = math.sqrt(sum(e * e for e in errs) / len(errs)) if errs else None
        s.metrics["unparsed_numbers"] = float(len(num_rows) - len(errs))

    judge = [x.score for r in results for x in r.results if x.type == "llm_judge"]
    if judge:
        s.metrics["judge_score"] = sum(judge) / len(judge)

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


LOWER_IS_BETTER = {"mae", "rmse"}


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
