"""The soft ``python`` check: a function from the prompt repo returns pass/score/reason."""

from __future__ import annotations

import importlib
import sys

from promptloop.repo.prompts import Assertion, Case
from promptloop.scoring.assertions.base import (
    Context,
    Result,
    evaluator,
)


@evaluator("python", hard=False)
def python(output: str, a: Assertion, case: Case, ctx: Context) -> Result:
    """Calls ``module:function`` from the prompt repo with (output, case) -> bool | float | dict."""
    target = str(a.value)
    module_name, _, func_name = target.partition(":")
    if ctx.root is not None and str(ctx.root) not in sys.path:
        sys.path.insert(0, str(ctx.root))
    fn = getattr(importlib.import_module(module_name), func_name)
    out = fn(output, {"id": case.id, "inputs": case.inputs, "expected": case.expected, "tags": case.tags})
    threshold = 0.5 if a.threshold is None else a.threshold
    if isinstance(out, dict):
        score = float(out.get("score", 1.0 if out.get("pass") else 0.0))
        passed = bool(out.get("pass", score >= threshold))
        return Result("python", passed, score, str(out.get("reason", target)))
    if isinstance(out, bool):
        return Result("python", out, float(out), target)
    score = float(out)
    return Result("python", score >= threshold, score, f"{target} scored {score:g}")
