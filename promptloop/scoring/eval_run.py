"""``promptloop eval`` end to end: load, check, call, score, summarise."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptloop.errors import EXIT_FAILED, EXIT_MODEL, EXIT_OK, ConfigError, UsageError
from promptloop.model.client import ModelClient, open_client
from promptloop.repo.config import Config, ModelRef
from promptloop.repo.prompts import (
    Case,
    GoldenSet,
    Prompt,
    golden_path,
    load_golden,
    load_prompt,
    python_check_errors,
)
from promptloop.scoring.evaluate import CaseResult, Progress, run_cases, task_model
from promptloop.scoring.judge_trust import judge_summary
from promptloop.scoring.metrics import Summary, check_thresholds, per_case_rates, summarise


@dataclass
class EvalReport:
    prompt: str
    golden: str
    model: str
    repeat: int
    results: list[CaseResult]
    summary: Summary
    thresholds: dict[str, float] = field(default_factory=dict)
    missed: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    calls: int = 0
    shard: tuple[int, int] | None = None
    excluded: list[str] = field(default_factory=list)  # the prompt's own demonstration cases, not scored
    judge: dict[str, Any] | None = None  # how far the prompt's llm_judge was trusted (scoring.judge_trust)

    @property
    def critical_failed(self) -> list[str]:
        """Cases tagged ``critical`` that failed (pass rate below one half over their scored samples): each
        fails the run whatever the thresholds say."""
        rates = per_case_rates(self.results)
        critical = dict.fromkeys(r.case_id for r in self.results if "critical" in r.tags)
        return [c for c in critical if c in rates and rates[c] < 0.5]

    @property
    def ok(self) -> bool:
        """Every threshold met, no critical case failed, and every case scored."""
        return not self.missed and not self.critical_failed and not self.summary.errors

    @property
    def exit_code(self) -> int:
        if self.shard is not None:  # one shard gates nothing: the merged report does (promptloop merge)
            return EXIT_MODEL if self.summary.errors else EXIT_OK
        if (self.missed and self.summary.scored) or self.critical_failed:
            return EXIT_FAILED
        if self.summary.errors:
            return EXIT_MODEL
        return EXIT_OK

    @property
    def verdict(self) -> str:
        """One line: what the exit code means for this run."""
        s = self.summary
        if self.shard is not None:
            i, n = self.shard
            return (f"shard {i}/{n}: {s.samples} sample(s), {s.errors} error(s); thresholds are judged on the "
                    "merged report (`promptloop merge`)")
        errors = (f"{s.errors} of {s.samples} call(s) failed and were not scored ({s.first_error})"
                  if s.errors else "")
        failed = []
        if self.critical_failed:
            failed.append(f"critical case(s) failed: {', '.join(self.critical_failed[:10])}"
                          + (f" and {len(self.critical_failed) - 10} more" if len(self.critical_failed) > 10 else ""))
        if self.missed and s.scored:
            failed.append("thresholds missed: " + "; ".join(self.missed))
        if failed:
            return "; ".join(failed) + (f"; also {errors}" if errors else "")
        if errors:
            return errors
        if not self.thresholds:
            return "ok (no thresholds set: add `thresholds:` to promptloop.yaml or the prompt to gate on)"
        return "ok: thresholds met"


def load_task(config: Config, prompt_name: str, golden: str | None = None) -> tuple[Prompt, GoldenSet]:
    """The prompt and its golden set, fully checked: every error surfaces before any model call."""
    prompt = load_prompt(config, prompt_name)
    gs = load_golden(golden_path(config, prompt, golden), prompt)
    require_cases(gs)
    errors = python_check_errors(config, prompt, gs)
    if errors:  # every case would fail on it, after its model call was paid for
        errors[0].others = errors[1:]
        raise errors[0]
    return prompt, gs


def require_cases(golden: GoldenSet, selected: list[Case] | None = None, how: str = "") -> list[Case]:
    """The cases to score; nothing to score is an input error, never a silent pass."""
    cases = golden.cases if selected is None else selected
    if not golden.cases:
        raise ConfigError("the golden set has no cases, so there is nothing to score; add cases under `cases:` "
                          "(or `promptloop golden add NAME --from-traces`)", file=str(golden.path))
    if not cases:
        raise UsageError(f"{how or 'the selection'} selects none of the {len(golden.cases)} case(s) in "
                         f"{golden.path}; widen it")
    return cases


@dataclass(frozen=True)
class Selection:
    """Which cases to run, like pytest's: ``-k`` substring of id or inputs, tags in or out, a seeded sample."""

    keyword: str | None = None
    tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    sample: int | None = None
    seed: int = 0
    only: frozenset[str] | None = None  # e.g. the cases that failed last run (--failed)

    def apply(self, cases: list[Case]) -> list[Case]:
        import json
        import random

        out = cases
        if self.only is not None:
            out = [c for c in out if c.id in self.only]
        if self.keyword:
            k = self.keyword.casefold()
            out = [c for c in out if k in c.id.casefold() or k in json.dumps(c.inputs, ensure_ascii=False).casefold()]
        if self.tags:
            out = [c for c in out if set(self.tags) & set(c.tags)]
        if self.exclude_tags:
            out = [c for c in out if not set(self.exclude_tags) & set(c.tags)]
        if self.sample is not None and self.sample < len(out):
            out = sorted(random.Random(self.seed).sample(out, self.sample), key=out.index)
        return out

    def describe(self) -> str:
        parts = [f"-k {self.keyword}" if self.keyword else "", *(f"--tag {t}" for t in self.tags),
                 *(f"--exclude-tag {t}" for t in self.exclude_tags),
                 f"--sample {self.sample}" if self.sample is not None else "",
                 "--failed" if self.only is not None else ""]
        return " ".join(p for p in parts if p) or "the selection"


async def evaluate_prompt(config: Config, prompt: Prompt, golden: GoldenSet, *, client: ModelClient,
                          model: str | None = None, repeat: int = 1, limit: int | None = None,
                          progress: Progress | None = None, shard: tuple[int, int] | None = None,
                          selection: Selection | None = None, judge_repeat: int = 1) -> EvalReport:
    demos = set(prompt.example_ids)
    pool = [c for c in golden.cases if c.id not in demos]
    excluded = [c.id for c in golden.cases if c.id in demos]
    if selection is not None:
        pool = require_cases(golden, selection.apply(pool), selection.describe())
    cases = require_cases(golden, pool[:limit] if limit else pool,
                          f"--limit {limit}" if limit else "leaving out the prompt's demonstration cases")
    if shard is not None:
        from promptloop.scoring.shards import select

        cases = select(cases, shard)  # an empty shard is fine: its merge with the others is judged
    ref: ModelRef = task_model(prompt, config, model)
    start = time.perf_counter()
    before = client.usage.calls
    results = await run_cases(prompt, cases, client, model=ref, judge=config.model("judge"), root=config.root,
                              repeat=repeat, progress=progress, judge_repeat=judge_repeat)
    judge = judge_summary(config, prompt, results)  # an advisory judge's lone failures count as passes here
    summary = summarise(results)
    thresholds = {**config.thresholds, **prompt.thresholds}
    return EvalReport(prompt=prompt.name, golden=golden.name, model=ref.name, repeat=repeat, results=results,
                      summary=summary, thresholds=thresholds, missed=check_thresholds(summary, thresholds),
                      duration_s=time.perf_counter() - start,
                      calls=client.usage.calls - before, shard=shard,
                      excluded=excluded, judge=judge)


def run_eval(config: Config, prompt_name: str, *, golden: str | None = None, model: str | None = None,
             repeat: int = 1, limit: int | None = None, no_cache: bool = False,
             client: ModelClient | None = None, progress: Progress | None = None) -> EvalReport:
    prompt, gs = load_task(config, prompt_name, golden)

    async def go() -> EvalReport:
        if client is not None:
            return await evaluate_prompt(config, prompt, gs, client=client, model=model, repeat=repeat,
                                         limit=limit, progress=progress)
        async with open_client(config, no_cache=no_cache) as lm:
            return await evaluate_prompt(config, prompt, gs, client=lm, model=model, repeat=repeat,
                                         limit=limit, progress=progress)

    return asyncio.run(go())


def report_dict(report: EvalReport) -> dict[str, Any]:
    s = report.summary
    return {
        "prompt": report.prompt, "golden": report.golden, "model": report.model, "repeat": report.repeat,
        "ok": report.ok, "exit_code": report.exit_code, "verdict": report.verdict,
        "thresholds": report.thresholds, "missed_thresholds": report.missed,
        "critical_failed": report.critical_failed,
        "cases": s.cases, "samples": s.samples, "scored": s.scored, "passed": s.passed, "failed": s.failed,
        "errors": s.errors,
        "metrics": s.metrics, "labels": s.labels, **s.details, "usage": s.usage, "calls": report.calls,
        "excluded_examples": report.excluded, "judge": report.judge,
        "duration_s": round(report.duration_s, 3), "shard": list(report.shard) if report.shard else None,
        "per_case_pass_rate": s.per_case if report.repeat > 1 else None,
        "results": [
            {"id": r.case_id, "sample": r.sample, "status": r.status, "passed": r.passed, "score": round(r.score, 4),
             "inputs": r.inputs, "expected": r.expected, "output": r.output, "error": r.error,
             **({"tool_calls": r.tool_calls} if r.tool_calls else {}),
             "tags": r.tags, "reason": r.reason, "latency_s": round(r.latency_s, 4), "cached": r.cached,
             "input_tokens": r.input_tokens, "output_tokens": r.output_tokens, "cost_usd": r.cost_usd,
             "assertions": [{"type": x.type, "pass": x.passed, "score": round(x.score, 4), "reason": x.reason,
                             "hard": x.hard, "weight": x.weight, "extra": x.extra} for x in r.results]}
            for r in report.results
        ],
    }


REPORT_KINDS = {".json": "json", ".md": "markdown", ".xml": "junit", ".html": "html"}


def path_kind(path: Path) -> str:
    """The report format a file name asks for; an unknown one is an input error, never silently JSON."""
    kind = REPORT_KINDS.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"-o {path}: unknown report type '{path.suffix or '(none)'}'; use .json, .md, "
                         ".xml (JUnit) or .html, e.g. -o report.junit.xml")
    return kind
