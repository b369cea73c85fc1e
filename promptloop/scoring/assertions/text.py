"""Text checks: equals, label, contains, not_contains, regex, max_length."""

from __future__ import annotations

import functools
import math
import re

from promptloop.repo.prompts import Assertion, Case
from promptloop.scoring.assertions.base import (
    Aggregated,
    Context,
    Result,
    aggregator,
    evaluator,
    expected_of,
    f1,
    normalise,
    parse_json,
    parse_number,
    short,
)


@evaluator("equals")
def equals(output: str, a: Assertion, case: Case, ctx: Context) -> Result:
    expected = expected_of(a, case)
    if isinstance(expected, (dict, list)):
        try:
            ok = parse_json(output) == expected
        except ValueError:
            ok = False
    elif isinstance(expected, (int, float)) and not isinstance(expected, bool):
        got = parse_number(output)
        ok = got is not None and math.isclose(got, float(expected), abs_tol=1e-9)
    else:
        ok = normalise(output) == normalise(expected)
    reason = "equal" if ok else f"expected {short(expected)!s}, got {short(output.strip())!s}"
    return Result("equals", ok, float(ok), reason)


def extract_label(output: str, labels: list[str]) -> str | None:
    """The one label ``output`` names, or None if it names none or several."""
    by_norm, pattern = _label_index(tuple(labels))
    norm = normalise(output)
    if norm in by_norm:
        return by_norm[norm]
    found = {by_norm[m] for m in pattern.findall(norm)}
    return found.pop() if len(found) == 1 else None


@functools.lru_cache(maxsize=64)
def _label_index(labels: tuple[str, ...]) -> tuple[dict[str, str], re.Pattern[str]]:
    by_norm = {normalise(label): label for label in labels}
    alternatives = "|".join(re.escape(n) for n in sorted(by_norm, key=len, reverse=True))
    return by_norm, re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


@evaluator("label")
def label(output: str, a: Assertion, case: Case, ctx: Context) -> Result:
    labels = [str(x) for x in (a.value or [])]
    expected = None if case.expected is None else str(case.expected)
    predicted = extract_label(output, labels) if labels else output.strip()
    extra = {"label_expected": expected, "label_predicted": predicted}
    if predicted is None:
        return Result("label", False, 0.0, f"no single label of {labels} in {short(output.strip())!r}",
                      extra=extra)
    ok = expected is not None and normalise(predicted) == normalise(expected)
    reason = f"label {predicted}" if ok else f"expected {expected}, got {predicted}"
    return Result("label", ok, float(ok), reason, extra=extra)


def _values(a: Assertion, case: Case) -> list[str]:
    v = expected_of(a, case)
    return [str(x) for x in v] if isinstance(v, list) else [str(v)]


@evaluator("contains")
def contains(output: str, a: Assertion, case: Case, ctx: Context) -> Result:
    missing = [v for v in _values(a, case) if v not in output]
    if missing:
        return Result("contains", False, 0.0, f"missing {', '.join(repr(m) for m in missing)}")
    return Result("contains", True, 1.0, "contains all")


@evaluator("not_contains")
def not_contains(output: str, a: Assertion, case: Case, ctx: Context) -> Result:
    present = [v for v in _values(a, case) if v in output]
    if present:
        return Result("not_contains", False, 0.0, f"must not contain {', '.join(repr(p) for p in present)}")
    return Result("not_contains", True, 1.0, "contains none")


@evaluator("regex")
def regex(output: str, a: Assertion, case: Case, ctx: Context) -> Result:
    ok = re.search(str(a.value), output) is not None
    return Result("regex", ok, float(ok), "matches" if ok else f"does not match /{a.value}/")


@evaluator("max_length")
def max_length(output: str, a: Assertion, case: Case, ctx: Context) -> Result:
    limit = int(a.value)
    ok = len(output) <= limit
    return Result("max_length", ok, float(ok), f"{len(output)} characters (max {limit})")


@aggregator("label")
def label_metrics(rows: list[Result]) -> Aggregated:
    """Accuracy, macro-F1 over the labels seen, and per-label counts (tp, fp, fn, support)."""
    counts: dict[str, dict[str, int]] = {}

    def count(name: str) -> dict[str, int]:
        return counts.setdefault(name, {"tp": 0, "fp": 0, "fn": 0, "support": 0})

    correct = 0
    for row in rows:
        exp, pred = row.extra.get("label_expected"), row.extra.get("label_predicted")
        if exp is not None:
            count(exp)["support"] += 1
        if pred is not None and pred == exp:
            count(exp)["tp"] += 1
            correct += 1
            continue
        if exp is not None:
            count(exp)["fn"] += 1
        if pred is not None:
            count(pred)["fp"] += 1
    f1s = [f1(c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0,
              c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0) for c in counts.values()]
    return Aggregated({"accuracy": correct / len(rows), "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0},
                      labels={k: dict(v) for k, v in sorted(counts.items())})
