"""The numeric check: the last number in the output against the expected one."""

from __future__ import annotations

import json
import math

from promptloop.repo.prompts import Assertion, Case
from promptloop.scoring.assertions.base import (
    Aggregated,
    Context,
    Result,
    aggregator,
    evaluator,
    expected_of,
    parse_json,
    parse_number,
    short,
)


@evaluator("numeric")
def numeric(output: str, a: Assertion, case: Case, ctx: Context) -> Result:
    expected = parse_number(expected_of(a, case))
    if expected is None:
        return Result("numeric", False, 0.0, f"no expected number in {short(expected_of(a, case))!r}")
    try:
        value = parse_json(output, lenient=False)
        got = parse_number(value if not isinstance(value, dict) else json.dumps(value))
    except ValueError:
        got = parse_number(output)
    if got is None:
        return Result("numeric", False, 0.0, f"no number in {short(output.strip())!r}",
                      extra={"expected": expected})
    tol = a.tolerance if a.tolerance is not None else 1e-6
    rel = a.rel_tolerance or 0.0
    error = abs(got - expected)
    ok = error <= max(tol, rel * abs(expected))
    reason = f"{got:g}" + (" = " if ok else " ≠ ") + f"{expected:g}"
    return Result("numeric", ok, float(ok), reason, extra={"expected": expected, "got": got, "error": error})


@aggregator("numeric", lower_is_better=("mae", "rmse"))
def numeric_metrics(rows: list[Result]) -> Aggregated:
    """Accuracy over the cases with an expected number; MAE and RMSE over the answers that had a number."""
    compared = [r for r in rows if "expected" in r.extra]
    if not compared:
        return Aggregated({})
    errs = [r.extra["error"] for r in compared if "error" in r.extra]
    return Aggregated({
        "numeric_accuracy": sum(1 for r in rows if r.passed) / len(compared),
        "mae": sum(errs) / len(errs) if errs else None,
        "rmse": math.sqrt(sum(e * e for e in errs) / len(errs)) if errs else None,
        "unparsed_numbers": float(len(compared) - len(errs)),
    })
