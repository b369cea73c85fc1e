"""Merging the JSON reports of an eval's shards into one report, judged like an unsharded run.

Every case result is rebuilt, so macro-F1, field F1 and percentiles are recomputed from all the cases,
never averaged.
"""

from __future__ import annotations

from typing import Any

from promptloop.errors import UsageError
from promptloop.scoring import assertions as A
from promptloop.scoring.eval_run import EvalReport
from promptloop.scoring.evaluate import CaseResult
from promptloop.scoring.metrics import check_thresholds, summarise
from promptloop.scoring.shards import check_whole, shard_of_report


def result_from_dict(d: dict[str, Any]) -> CaseResult:
    r = CaseResult(case_id=str(d["id"]), sample=int(d.get("sample", 0)), inputs=d.get("inputs") or {},
                   expected=d.get("expected"), tags=list(d.get("tags") or []), output=d.get("output") or "",
                   error=d.get("error"), passed=bool(d.get("passed")), score=float(d.get("score", 0.0)),
                   input_tokens=int(d.get("input_tokens") or 0), output_tokens=int(d.get("output_tokens") or 0),
                   cost_usd=d.get("cost_usd"), latency_s=float(d.get("latency_s") or 0.0),
                   cached=bool(d.get("cached")))
    r.results = [A.Result(x["type"], bool(x["pass"]), float(x["score"]), x.get("reason", ""),
                          hard=bool(x.get("hard", True)), weight=float(x.get("weight", 1.0)),
                          extra=x.get("extra") or {}) for x in d.get("assertions") or []]
    return r


def merge_eval(reports: list[dict[str, Any]]) -> EvalReport:
    """One report from the JSON reports of the shards of one eval (``eval --shard I/N --json``)."""
    if not reports:
        raise UsageError("nothing to merge: pass the shards' JSON reports")
    first = reports[0]
    for r in reports[1:]:
        for key in ("prompt", "golden", "model", "repeat"):
            if r.get(key) != first.get(key):
                raise UsageError(f"these reports are not shards of one eval: {key} {first.get(key)!r} vs "
                                 f"{r.get(key)!r}")
    shards = [shard_of_report(r) for r in reports]
    if None not in shards:
        check_whole([s for s in shards if s is not None])
    results = [result_from_dict(x) for r in reports for x in r.get("results") or []]
    seen: set[tuple[str, int]] = set()
    for x in results:
        if (x.case_id, x.sample) in seen:
            raise UsageError(f"case {x.case_id} appears in more than one report; merge each shard once")
        seen.add((x.case_id, x.sample))
    summary = summarise(results)
    thresholds = dict(first.get("thresholds") or {})
    return EvalReport(prompt=first["prompt"], golden=first["golden"], model=first["model"], repeat=first["repeat"],
                      results=results, summary=summary, thresholds=thresholds,
                      missed=check_thresholds(summary, thresholds),
                      duration_s=max(float(r.get("duration_s") or 0.0) for r in reports),
                      calls=sum(int(r.get("calls") or 0) for r in reports))
