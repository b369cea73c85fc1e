"""The numeric check: the last number in the output against the expected one."""

from __future__ import annotations

import json

from promptloop.repo.prompts import Assertion, Case
from promptloop.scoring.assertions.base import (
    Context,
    Result,
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
