"""``promptloop regress``, the CI gate: score the base and new versions of every changed prompt on its
golden set, classify every case (fixed, regressed, still failing, still passing) and judge the change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from promptloop.errors import ConfigError, GitError, UsageError
from promptloop.git.changes import Change, base_config, find_changes, resolve_base
from promptloop.git.commits import file_at, open_repo, relpath
from promptloop.model.client import ModelClient
from promptloop.repo.config import Config
from promptloop.repo.files import load_yaml
from promptloop.repo.prompts import Case, GoldenSet, Prompt, golden_path, load_golden, load_prompt, prompt_from_text
from promptloop.repo.tools import tools_file
from promptloop.scoring.eval_run import Selection
from promptloop.scoring.evaluate import CaseResult, Progress, run_cases, task_model
from promptloop.scoring.gate import CaseChange, PromptVerdict, RegressReport, gate
from promptloop.scoring.judge_trust import judge_advisory, judge_summary, unsettled, without_judge
from promptloop.scoring.metrics import per_case_rates, summarise
from promptloop.scoring.shards import Shard, select
from promptloop.scoring.significance import pair


@dataclass(frozen=True)
class Scoring:
    """How both versions are scored in one run."""

    config: Config
    old_config: Config
    repeat: int
    progress: Callable[[str], Progress | None] | None = None  # a progress callback per scoring pass, by name
    judge_repeat: int = 1  # judge calls per output
    base_file: Callable[[Path], str | None] = lambda path: None  # a repo file's text at the merge-base


async def regress(config: Config, client: ModelClient, *, base: str, prompts: list[str] | None = None,
                  repeat: int | None = None, progress: Callable[[str], Progress | None] | None = None,
                  shard: Shard | None = None, selection: Selection | None = None,
                  judge_repeat: int | None = None) -> RegressReport:
    """Judge every prompt changed since the merge-base of ``base`` and HEAD. ``judge_repeat`` (else
    ``regress.judge_repeats``) calls to the judge per output measure its noise, which the gate then discounts."""
    repo = open_repo(config.root)
    if not repo.head.is_valid():
        raise GitError("the repository has no commits yet: nothing to compare against")
    mb = resolve_base(repo, base)
    changes, unchanged = find_changes(config, repo, mb, prompts)
    before = client.usage.calls
    n = repeat or config.regress["repeats"]
    how = Scoring(config, base_config(config, repo, mb), n, progress,
                  base_file=lambda path: file_at(repo, mb, relpath(repo, path)),
                  judge_repeat=judge_repeat or config.regress["judge_repeats"])
    verdicts = [await judge_change(how, c, client, shard=shard, selection=selection) for c in changes]
    scored = [v for v, c in zip(verdicts, changes, strict=True) if c.status != "deleted"]
    if selection is not None and scored and not any(v.cases for v in scored):
        raise UsageError(f"{selection.describe()} leaves no case of the changed prompts "
                         f"({', '.join(c.name for c in changes)}); widen it, or run without it")
    return RegressReport(base=base, merge_base=mb, prompts=verdicts, unchanged=unchanged,
                         calls=client.usage.calls - before, shard=shard, settings=config.regress, repeat=n)


async def judge_change(how: Scoring, change: Change, client: ModelClient, *, shard: Shard | None = None,
                       selection: Selection | None = None) -> PromptVerdict:
    """Score both versions, each under its own promptloop.yaml, and classify every case.

    A case whose call failed on either side is an ``error``: neither fixed nor regressed."""
    v = PromptVerdict(change.name, change.status)
    if change.status == "deleted":
        v.notes.append("prompt deleted: nothing to score")
        return v
    new = load_prompt(how.config, str(change.new_path))
    golden: GoldenSet = load_golden(golden_path(how.config, new), new)
    base = None if change.base_text is None else prompt_from_text(change.old_name or change.name, new.path,
                                                                  change.base_text)
    if base is not None and isinstance(base.data.get("tools"), str):
        base = _with_base_tools(how, base)
    cases = _cases(v, golden, new, base, shard, selection)
    if not v.ok:  # the selection left this change without a case: not judged, and failed for it
        return v
    _note_change(v, change)
    new_results = await _score(how, how.config, new, cases, client, f"{change.name} (this change)")
    v.new_metrics = _metrics(new_results)
    if base is None:
        v.notes.append("new prompt: no base version to compare with")
        _classify_new(v, cases, new_results)
        return v
    base_results = await _score(how, how.old_config, base, cases, client, f"{change.name} (base)")
    v.base_metrics = _metrics(base_results)
    advisory = judge_advisory(how.config, new)
    if advisory:  # the gate rests on the checks that can be trusted; the judge is shown, not obeyed
        swayed = without_judge(base_results) + without_judge(new_results)
        if swayed:
            v.notes.append(f"llm_judge is advisory: {advisory}; {swayed} verdict(s) that rested on it alone were "
                           "not counted")
    else:
        j = judge_summary(how.config, new, new_results) or {}
        if j.get("corrected_pass_rate") is not None:
            low, high = j["corrected_interval"]
            v.notes.append(f"judge pass rate {j['judge_pass_rate']:.2f}; corrected for its measured errors "
                           f"{j['corrected_pass_rate']:.2f} [{low:.2f}, {high:.2f}]")
    classify(v, cases, base_results, new_results)
    gate(v, how.config.regress, how.repeat)
    return v



def _cases(v: PromptVerdict, golden: GoldenSet, new: Prompt, base: Prompt | None, shard: Shard | None,
           selection: Selection | None) -> list[Case]:
    """The cases the gate judges; a selection that leaves none fails the verdict (never a silent pass)."""
    # A case either version shows as a demonstration would pass with its answer in the prompt: left out.
    demos = set(new.example_ids) | set(base.example_ids if base else [])
    cases = [c for c in select(golden.cases, shard) if c.id not in demos]
    if demos:
        v.notes.append(f"{len(demos)} demonstration case(s) left out of both versions' scores")
    if selection is None:
        return cases
    picked = selection.apply(cases)
    v.notes.append(f"{selection.describe()}: {len(picked)} of {len(cases)} cases scored, the gate judges those")
    if not picked:  # a changed prompt the gate did not judge must not pass as if it had been
        v.ok = False
        v.reasons.append(f"{selection.describe()} leaves none of its golden cases, so this change was not "
                         "judged; widen the selection, or name the prompts to gate (regress PROMPT ...)")
    return picked


def _with_base_tools(how: Scoring, base: Prompt) -> Prompt:
    """The base version with the tools its file held at the merge-base (else a change of the tools file would
    be scored with the new tools on both sides, and the gate would never see it)."""
    path = tools_file(base.path, str(base.data["tools"]))
    text = how.base_file(path)
    if text is None:
        raise ConfigError(f"the base version's tools file {path.name} is not in the merge-base; commit it there, "
                          "or write the tools inline", file=str(path))
    tools = load_yaml(path, text).data
    return prompt_from_text(base.name, base.path, yaml.safe_dump({**base.data, "tools": tools}, sort_keys=False))


def _note_change(v: PromptVerdict, change: Change) -> None:
    if change.status == "renamed":
        v.notes.append(f"renamed from {change.old_name}")
    if change.golden_changed:
        v.notes.append("golden set changed in this change: both versions scored on the new golden set")
    v.notes += change.inputs_changed
    if any("python check module" in why for why in change.inputs_changed):
        v.notes.append("both versions are scored with the working tree's python check modules")


async def _score(how: Scoring, config: Config, prompt: Prompt, cases: list[Case], client: ModelClient,
                 label: str) -> list[CaseResult]:
    return await run_cases(prompt, cases, client, model=task_model(prompt, config), judge=config.model("judge"),
                           root=how.config.root, repeat=how.repeat, judge_repeat=how.judge_repeat,
                           progress=how.progress(label) if how.progress else None)


def _metrics(results: list[CaseResult]) -> dict[str, float]:
    return {k: x for k, x in summarise(results).metrics.items() if x is not None}


def _errors(results: list[CaseResult], rates: dict[str, float], prefix: str = "") -> dict[str, str]:
    """Cases with no rate because every sample's call failed: their first error."""
    return {r.case_id: prefix + r.error for r in results if r.error and r.case_id not in rates}


def _classify_new(v: PromptVerdict, cases: list[Case], results: list[CaseResult]) -> None:
    rates = per_case_rates(results)
    by_id = {r.case_id: r for r in results}
    errors = _errors(results, rates)
    v.cases = [CaseChange(c.id, "error" if c.id in errors else "passing" if rates[c.id] >= 0.5 else "failing",
                          critical=c.critical, reason=errors.get(c.id) or by_id[c.id].reason) for c in cases]
    v.errors = [f"{i}: {e}" for i, e in errors.items()]


def classify(v: PromptVerdict, cases: list[Case], base_results: list[CaseResult],
              new_results: list[CaseResult]) -> None:
    new_rates, base_rates = per_case_rates(new_results), per_case_rates(base_results)
    new_by_id = {r.case_id: r for r in new_results}
    errors = _errors(new_results, new_rates)
    errors |= {i: e for i, e in _errors(base_results, base_rates, "base version: ").items() if i not in errors}
    v.errors = [f"{i}: {e}" for i, e in errors.items()]
    both = [c.id for c in cases if c.id not in errors]
    p = v.paired = pair({i: base_rates[i] for i in both}, {i: new_rates[i] for i in both},
                        unsettled=unsettled(base_results) | unsettled(new_results))
    change = {**{i: "fixed" for i in p.fixed}, **{i: "regressed" for i in p.regressed},
              **{i: "still failing" for i in p.still_failing}, **{i: "still passing" for i in p.still_passing},
              **{i: "error" for i in errors}}
    v.cases = [CaseChange(c.id, change[c.id], critical=c.critical, reason=errors.get(c.id) or new_by_id[c.id].reason,
                          compared=True, base_rate=base_rates.get(c.id), new_rate=new_rates.get(c.id),
                          output=new_by_id[c.id].output, expected=c.expected) for c in cases]
