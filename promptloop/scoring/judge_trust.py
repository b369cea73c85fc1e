"""Whether a prompt's ``llm_judge`` may gate: the calibration kept beside its labels, measured for the judge as it
is now, with enough agreement (see :mod:`promptloop.scoring.calibration`). An advisory judge is shown, never
obeyed: a case that fails on it alone is judged on its other checks."""

from __future__ import annotations

from typing import Any

from promptloop.repo.config import Config
from promptloop.repo.labels import load_labels
from promptloop.repo.prompts import Assertion, Prompt
from promptloop.scoring import assertions as A
from promptloop.scoring.assertions.judge import split
from promptloop.scoring.calibration import MIN_KAPPA, corrected_rate, fingerprint, trust
from promptloop.scoring.evaluate import judge_model
from promptloop.scoring.significance import wilson


def the_judge(prompt: Prompt) -> Assertion | None:
    """The prompt's own ``llm_judge`` check: the one calibration measures and the gate trusts or not."""
    return next((a for a in prompt.assertions if a.type == "llm_judge"), None)


def judge_fingerprint(config: Config, prompt: Prompt, a: Assertion) -> str:
    return fingerprint(A.JUDGE_PROMPT, judge_model(a, config.model("judge")).name, a.value, a.threshold)


def judge_advisory(config: Config, prompt: Prompt) -> str | None:
    """Why the prompt's judge may not gate (never calibrated, stale, agreeing too little), or None."""
    a = the_judge(prompt)
    if a is None or config.regress.get("trust_uncalibrated_judge"):
        return None
    record = load_labels(config, prompt.name).calibration
    floor = float(config.regress.get("judge_min_kappa", MIN_KAPPA))
    return trust(record, judge_fingerprint(config, prompt, a), floor)


def without_judge(results: list[Any]) -> int:
    """Judge each result on its other checks only (an advisory judge decides nothing); how many changed."""
    changed = 0
    for r in results:
        if r.error or r.passed or not any(x.type == "llm_judge" and not x.passed for x in r.results):
            continue
        if all(x.passed for x in r.results if x.type != "llm_judge"):
            r.passed, changed = True, changed + 1
    return changed


def unsettled(results: list[Any]) -> set[str]:
    """Cases with a judge verdict its repeated calls split on (``--judge-repeat``): pass or fail within its noise."""
    return {r.case_id for r in results for x in r.results if split(x)}


def judge_summary(config: Config, prompt: Prompt, results: list[Any]) -> dict[str, Any] | None:
    """What an eval says about its judge: advisory (and the cases that failed on it alone, then judged on their
    other checks) or trusted (its pass rate corrected for its measured error rates, with an interval)."""
    a = the_judge(prompt)
    if a is None:
        return None
    verdicts = [x.passed for r in results for x in r.results if x.type == "llm_judge"]
    observed = sum(verdicts) / len(verdicts) if verdicts else None
    why = judge_advisory(config, prompt)
    if why:
        before = {r.case_id for r in results if not r.passed}
        without_judge(results)
        return {"advisory": why, "judge_pass_rate": observed,
                "judge_only_failures": sorted(before - {r.case_id for r in results if not r.passed})}
    record = load_labels(config, prompt.name).calibration or {}
    tpr, tnr = record.get("tpr"), record.get("tnr")
    out: dict[str, Any] = {"advisory": None, "judge_pass_rate": observed, "kappa": record.get("kappa")}
    if observed is not None and isinstance(tpr, (int, float)) and isinstance(tnr, (int, float)):
        low, high = wilson(sum(verdicts), len(verdicts))
        out["corrected_pass_rate"] = corrected_rate(observed, tpr, tnr)
        out["corrected_interval"] = [corrected_rate(low, tpr, tnr), corrected_rate(high, tpr, tnr)]
    return out
