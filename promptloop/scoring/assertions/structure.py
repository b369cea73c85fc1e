"""Structure checks: is_json, json_schema, and field-level precision/recall (fields)."""

from __future__ import annotations

from typing import Any

from promptloop.repo.prompts import Assertion, Case
from promptloop.scoring.assertions.base import (
    Aggregated,
    Context,
    Result,
    aggregator,
    evaluator,
    f1,
    normalise,
    parse_json,
    ratio,
)


@evaluator("is_json")
def is_json(output: str, a: Assertion, case: Case, ctx: Context) -> Result:
    try:
        parse_json(output, lenient=False)
    except ValueError as e:
        return Result("is_json", False, 0.0, f"not valid JSON: {e}")
    return Result("is_json", True, 1.0, "valid JSON")


@evaluator("json_schema")
def json_schema(output: str, a: Assertion, case: Case, ctx: Context) -> Result:
    import jsonschema

    schema = a.value if a.value is not None else ctx.output_schema
    try:
        value = parse_json(output)
    except ValueError as e:
        return Result("json_schema", False, 0.0, f"not valid JSON: {e}")
    errors = sorted(jsonschema.validators.validator_for(schema)(schema).iter_errors(value),
                    key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        first = errors[0]
        where = "/".join(map(str, first.absolute_path)) or "(root)"
        return Result("json_schema", False, 0.0, f"schema violation at {where}: {first.message}")
    return Result("json_schema", True, 1.0, "matches the schema")


@evaluator("fields")
def fields(output: str, a: Assertion, case: Case, ctx: Context) -> Result:
    expected = case.expected if isinstance(case.expected, dict) else {}
    wanted = [str(f) for f in a.value] if isinstance(a.value, list) else None
    try:
        got = parse_json(output)
    except ValueError:
        got = None
    if not isinstance(got, dict):
        fn = sum(1 for k, v in expected.items() if v is not None and (wanted is None or k in wanted))
        return Result("fields", False, 0.0, "output is not a JSON object",
                      extra={"tp": 0, "fp": 0, "fn": fn})

    def keep(k: str, v: Any) -> bool:
        return v not in (None, "", [], {}) and (wanted is None or k in wanted)

    exp = {k: v for k, v in expected.items() if keep(k, v)}
    pred = {k: v for k, v in got.items() if keep(k, v)}
    tp = sum(1 for k, v in exp.items() if k in pred and normalise(pred[k]) == normalise(v))
    fp = len(pred) - tp
    fn = len(exp) - tp
    precision, recall = ratio(tp, tp + fp, fn == 0), ratio(tp, tp + fn, fp == 0)
    score = f1(precision, recall)
    threshold = 1.0 if a.threshold is None else a.threshold
    wrong = [k for k in exp if not (k in pred and normalise(pred[k]) == normalise(exp[k]))]
    extra_keys = [k for k in pred if k not in exp]
    reason = f"P={precision:.2f} R={recall:.2f} F1={score:.2f}"
    if wrong:
        reason += "; wrong or missing: " + ", ".join(wrong)
    if extra_keys:
        reason += "; unexpected: " + ", ".join(extra_keys)
    return Result("fields", score >= threshold, score, reason, extra={"tp": tp, "fp": fp, "fn": fn})


@aggregator("fields")
def field_metrics(rows: list[Result]) -> Aggregated:
    """Micro-averaged field precision, recall and F1 over every compared field."""
    tp, fp, fn = (sum(r.extra.get(k, 0) for r in rows) for k in ("tp", "fp", "fn"))
    p, rc = ratio(tp, tp + fp, fn == 0), ratio(tp, tp + fn, fp == 0)
    return Aggregated({"field_precision": p, "field_recall": rc, "field_f1": f1(p, rc)})
