"""``promptloop regress``: the CI gate. Score base and new versions of every changed prompt
on the golden set and classify each case: fixed, regressed, still failing, still passing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptloop.errors import EXIT_FAILED, EXIT_MODEL, EXIT_OK, GitError, PromptloopError, UsageError
from promptloop.git.commits import commit_sha, file_at, open_repo, relpath
from promptloop.model.client import ModelClient
from promptloop.repo.config import CONFIG_FILE, Config, config_from_text
from promptloop.repo.prompts import GoldenSet, Prompt, golden_path, load_golden, load_prompt, prompt_from_text
from promptloop.scoring.eval_run import Selection
from promptloop.scoring.evaluate import Progress, run_cases, task_model
from promptloop.scoring.metrics import LOWER_IS_BETTER, summarise
from promptloop.scoring.metrics import per_case_rates as rates
from promptloop.scoring.shards import Shard, check_whole, select, shard_of_report
from promptloop.scoring.significance import Paired, pair

SHALLOW_HINT = ("if this is a shallow CI clone, fetch the history: in GitHub Actions use actions/checkout "
                "with `fetch-depth: 0`, or run `git fetch --unshallow`")


@dataclass
class Change:
    name: str
    status: str  # modified | added | deleted | renamed | golden-changed
    base_text: str | None
    new_path: Path | None
    old_name: str | None = None
    golden_changed: bool = False
    inputs_changed: list[str] = field(default_factory=list)  # other inputs of its score that changed


@dataclass
class PromptVerdict:
    name: str
    status: str
    ok: bool = True
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    paired: Paired | None = None
    base_metrics: dict[str, float] = field(default_factory=dict)
    new_metrics: dict[str, float] = field(default_factory=dict)
    cases: list[dict[str, Any]] = field(default_factory=list)
    confidence: str = ""
    errors: list[str] = field(default_factory=list)  # model errors: those cases are neither pass nor fail


@dataclass
class RegressReport:
    base: str
    merge_base: str
    prompts: list[PromptVerdict]
    unchanged: list[str]
    calls: int = 0
    shard: Shard | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    repeat: int = 1

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.prompts)

    @property
    def errors(self) -> int:
        return sum(len(p.errors) for p in self.prompts)

    @property
    def exit_code(self) -> int:
        if self.shard is not None:  # one shard gates nothing: the merge of all shards does
            return EXIT_MODEL if self.errors else EXIT_OK
        if not self.ok:
            return EXIT_FAILED
        return EXIT_MODEL if self.errors else EXIT_OK


def resolve_base(repo: Any, ref: str) -> str:
    sha = commit_sha(repo, ref)
    if sha is None:
        raise UsageError(f"base ref '{ref}' does not exist here; {SHALLOW_HINT}")
    found = repo.merge_base(repo.commit(sha), repo.head.commit)
    if not found:
        raise UsageError(f"'{ref}' and HEAD share no history; {SHALLOW_HINT}")
    return str(found[0].hexsha)


def find_changes(config: Config, repo: Any, merge_base: str, only: list[str] | None = None) -> tuple[list[Change],
                                                                                                    list[str]]:
    """Prompts whose file or golden set differ between ``merge_base`` and the working tree."""
    root = Path(repo.working_tree_dir)
    prompts_rel = relpath(repo, config.prompts_dir)
    golden_rel = relpath(repo, config.golden_dir)
    diff = repo.git.diff("--name-status", "-M", merge_base, "--", prompts_rel, golden_rel)
    untracked = repo.git.ls_files("--others", "--exclude-standard", "--", prompts_rel, golden_rel)
    entries: list[tuple[str, str, str | None]] = []
    for line in diff.splitlines():
        parts = line.split("\t")
        if parts[0].startswith("R"):
            entries.append(("renamed", parts[2], parts[1]))
        else:
            entries.append(({"A": "added", "D": "deleted"}.get(parts[0][0], "modified"), parts[1], None))
    entries += [("added", p, None) for p in untracked.splitlines() if p]

    def stem(rel: str) -> str:
        return Path(rel).stem

    changes: dict[str, Change] = {}
    golden_touched: set[str] = set()
    for status, rel, old in entries:
        if not rel.endswith((".yaml", ".yml")):
            continue
        if rel.startswith(prompts_rel + "/"):
            base_rel = old or rel
            changes[stem(rel)] = Change(stem(rel), status, file_at(repo, merge_base, base_rel)
                                        if status != "added" else None,
                                        None if status == "deleted" else root / rel,
                                        old_name=stem(old) if old else None)
        elif rel.startswith(golden_rel + "/"):
            golden_touched.add(stem(rel))
            if old:
                golden_touched.add(stem(old))
    all_prompts = sorted(p.stem for p in config.prompts_dir.glob("*.y*ml"))
    for name in all_prompts:
        try:
            golden_name = load_prompt(config, name).golden_name
        except PromptloopError:  # judged (and reported) when the change is scored
            golden_name = name
        if golden_name in golden_touched:
            if name in changes:
                changes[name].golden_changed = True
            else:
                rel = relpath(repo, config.prompts_dir / f"{name}.yaml")
                changes[name] = Change(name, "golden-changed", file_at(repo, merge_base, rel),
                                       config.prompts_dir / f"{name}.yaml", golden_changed=True)
    for name, why in other_inputs_changed(config, repo, merge_base, all_prompts).items():
        if name in changes:
            changes[name].inputs_changed += why
        else:
            rel = relpath(repo, config.prompts_dir / f"{name}.yaml")
            changes[name] = Change(name, "inputs-changed", file_at(repo, merge_base, rel),
                                   config.prompts_dir / f"{name}.yaml", inputs_changed=why)
    selected = [c for n, c in sorted(changes.items()) if not only or n in only]
    unchanged = [n for n in all_prompts if n not in changes and (not only or n in only)]
    return selected, unchanged


def base_config(config: Config, repo: Any, merge_base: str) -> Config:
    """promptloop.yaml as it was at the merge-base (defaults if it did not exist)."""
    return config_from_text(config.root, file_at(repo, merge_base, relpath(repo, config.root / CONFIG_FILE)))


def python_modules(prompt: Prompt, golden: GoldenSet | None) -> set[str]:
    found = [a for a in prompt.assertions if a.type == "python"]
    found += [a for c in (golden.cases if golden else []) for a in c.assertions if a.type == "python"]
    return {str(a.value).partition(":")[0] for a in found if a.value}


def module_paths(root: Path, module: str) -> list[Path]:
    base = root.joinpath(*module.split("."))
    return [base.with_suffix(".py"), base / "__init__.py"]


def other_inputs_changed(config: Config, repo: Any, merge_base: str, names: list[str]) -> dict[str, list[str]]:
    """Prompts whose score can change without their own files changing: promptloop.yaml (models,
    thresholds, timeout) or a ``python:`` check module in the repo."""
    out: dict[str, list[str]] = {}
    before = base_config(config, repo, merge_base).scoring_settings()
    after = config.scoring_settings()
    changed_keys = [k for k in after if after[k] != before[k]]
    changed_roles = [r for r in after["models"] if after["models"][r] != before["models"][r]]
    for name in names:
        try:
            prompt = load_prompt(config, name)
        except PromptloopError:
            continue
        why: list[str] = []
        if "models" in changed_keys and (("task" in changed_roles and not prompt.model_settings.get("name"))
                                         or "judge" in changed_roles):
            why.append(f"{CONFIG_FILE}: models ({', '.join(changed_roles)}) changed")
        if "thresholds" in changed_keys or "timeout" in changed_keys:
            why.append(f"{CONFIG_FILE}: {', '.join(k for k in changed_keys if k != 'models')} changed")
        try:
            golden: GoldenSet | None = load_golden(golden_path(config, prompt), prompt)
        except PromptloopError:
            golden = None
        for module in sorted(python_modules(prompt, golden)):
            for path in module_paths(config.root, module):
                rel = relpath(repo, path)
                now = path.read_text(encoding="utf-8") if path.is_file() else None
                if now != file_at(repo, merge_base, rel):
                    why.append(f"python check module {rel} changed")
                    break
        if why:
            out[name] = why
    return out


async def judge_change(config: Config, change: Change, client: ModelClient, *, repeat: int,
                       progress: Progress | None = None, old_config: Config | None = None,
                       shard: Shard | None = None, selection: Selection | None = None) -> PromptVerdict:
    """Score both versions, each under its own promptloop.yaml, and classify every case.

    A case whose call failed on either side is an ``error``: neither fixed nor regressed."""
    old_config = old_config or config
    v = PromptVerdict(change.name, change.status)
    if change.status == "deleted":
        v.notes.append("prompt deleted: nothing to score")
        return v
    new = load_prompt(config, str(change.new_path))
    golden: GoldenSet = load_golden(golden_path(config, new), new)
    base: Prompt | None = None
    if change.base_text is not None:
        base = prompt_from_text(change.old_name or change.name, new.path, change.base_text)
    # A case either version shows as a demonstration would pass with its answer in the prompt: left out.
    demos = set(new.example_ids) | set(base.example_ids if base else [])
    cases = [c for c in select(golden.cases, shard) if c.id not in demos]
    if demos:
        v.notes.append(f"{len(demos)} demonstration case(s) left out of both versions' scores")
    if selection is not None:
        picked = selection.apply(cases)
        v.notes.append(f"{selection.describe()}: {len(picked)} of {len(cases)} cases scored, the gate judges those")
        cases = picked
        if not cases:  # a changed prompt the gate did not judge must not pass as if it had been
            v.ok = False
            v.reasons.append(f"{selection.describe()} leaves none of its golden cases, so this change was not "
                             "judged; widen the selection, or name the prompts to gate (regress PROMPT ...)")
            return v
    if change.status == "renamed":
        v.notes.append(f"renamed from {change.old_name}")
    if change.golden_changed:
        v.notes.append("golden set changed in this change: both versions scored on the new golden set")
    v.notes += change.inputs_changed
    if any("python check module" in why for why in change.inputs_changed):
        v.notes.append("both versions are scored with the working tree's python check modules")
    settings = config.regress
    model = task_model(new, config)
    kwargs = dict(judge=config.model("judge"), root=config.root, repeat=repeat, progress=progress)
    new_results = await run_cases(new, cases, client, model=model, **kwargs)  # type: ignore[arg-type]
    v.new_metrics = {k: x for k, x in summarise(new_results).metrics.items() if x is not None}
    new_rates = rates(new_results)
    new_by_id = {r.case_id: r for r in new_results}
    errors = {r.case_id: r.error for r in new_results if r.error and r.case_id not in new_rates}
    if base is None:
        v.notes.append("new prompt: no base version to compare with")
        v.cases = [{"id": c.id, "class": "error" if c.id in errors else
                    "passing" if new_rates[c.id] >= 0.5 else "failing", "critical": c.critical,
                    "reason": errors.get(c.id) or new_by_id[c.id].reason} for c in cases]
        v.errors = [f"{i}: {e}" for i, e in errors.items()]
        return v
    base_kwargs = {**kwargs, "judge": old_config.model("judge")}
    base_results = await run_cases(base, cases, client, model=task_model(base, old_config),
                                   **base_kwargs)  # type: ignore[arg-type]
    v.base_metrics = {k: x for k, x in summarise(base_results).metrics.items() if x is not None}
    base_rates = rates(base_results)
    errors |= {r.case_id: f"base version: {r.error}" for r in base_results
               if r.error and r.case_id not in base_rates and r.case_id not in errors}
    v.errors = [f"{i}: {e}" for i, e in errors.items()]
    both = [c.id for c in cases if c.id not in errors]
    p = pair({i: base_rates[i] for i in both}, {i: new_rates[i] for i in both})
    v.paired = p
    klass = {**{i: "fixed" for i in p.fixed}, **{i: "regressed" for i in p.regressed},
             **{i: "still failing" for i in p.still_failing}, **{i: "still passing" for i in p.still_passing},
             **{i: "error" for i in errors}}
    v.cases = [{"id": c.id, "class": klass[c.id], "critical": c.critical, "base_rate": base_rates.get(c.id),
                "new_rate": new_rates.get(c.id), "reason": errors.get(c.id) or new_by_id[c.id].reason,
                "output": new_by_id[c.id].output, "expected": c.expected} for c in cases]
    gate(v, settings, repeat)
    return v


def gate(v: PromptVerdict, settings: dict[str, Any], repeat: int) -> None:
    """The gate's rule on a classified verdict: no critical regression, no more regressions than the
    allowance, no significant aggregate drop beyond the tolerance. Sets ``ok``, ``reasons``, ``confidence``."""
    p = v.paired
    assert p is not None
    critical = [c["id"] for c in v.cases if c["critical"] and c["class"] == "regressed"]
    if critical:
        v.reasons.append(f"critical case(s) regressed: {', '.join(map(str, critical))}")
    if len(p.regressed) > settings["allowance"]:
        v.reasons.append(f"{len(p.regressed)} case(s) regressed (allowance {settings['allowance']})")
    significant = p.p_worse < settings["alpha"]
    for metric, before in v.base_metrics.items():
        after = v.new_metrics.get(metric)
        if after is None or metric in ("unparsed_numbers",):
            continue
        drop = (after - before) if metric in LOWER_IS_BETTER else (before - after)
        if drop > settings["tolerance"] and significant:
            v.reasons.append(f"{metric} {before:.3f} -> {after:.3f} (drop beyond tolerance {settings['tolerance']:g})")
    v.ok = not v.reasons
    v.confidence = (f"{len(p.fixed)} fixed, {len(p.regressed)} regressed of {p.n} cases × {repeat} sample(s); "
                    f"sign test p={p.p_worse:.3f} (the chance of this many regressions if both versions were "
                    f"equally good; {'significant' if significant else 'not significant'} at α={settings['alpha']:g})"
                    + (f"; {len(v.errors)} case(s) not compared: their model calls failed" if v.errors else ""))


async def regress(config: Config, client: ModelClient, *, base: str, prompts: list[str] | None = None,
                  repeat: int | None = None, progress: Progress | None = None,
                  shard: Shard | None = None, selection: Selection | None = None) -> RegressReport:
    repo = open_repo(config.root)
    if not repo.head.is_valid():
        raise GitError("the repository has no commits yet: nothing to compare against")
    mb = resolve_base(repo, base)
    changes, unchanged = find_changes(config, repo, mb, prompts)
    old_config = base_config(config, repo, mb)
    before = client.usage.calls
    n = repeat or config.regress["repeats"]
    verdicts = [await judge_change(config, c, client, repeat=n, progress=progress, old_config=old_config, shard=shard,
                                   selection=selection) for c in changes]
    scored = [v for v, c in zip(verdicts, changes, strict=True) if c.status != "deleted"]
    if selection is not None and scored and not any(v.cases for v in scored):
        raise UsageError(f"{selection.describe()} leaves no case of the changed prompts "
                         f"({', '.join(c.name for c in changes)}); widen it, or run without it")
    calls = client.usage.calls - before
    return RegressReport(base=base, merge_base=mb, prompts=verdicts, unchanged=unchanged, calls=calls, shard=shard,
                         settings=config.regress, repeat=n)


def merge_regress(docs: list[dict[str, Any]]) -> RegressReport:
    """The gate's verdict over the JSON reports of every shard of one ``regress --shard I/N`` run.

    Cases are pooled and judged again: critical regressions, the allowance, the sign test and the pass
    rate are over all cases; other metrics' drops are judged within each shard and carried over."""
    if not docs:
        raise UsageError("nothing to merge: pass the shards' JSON reports")
    first = docs[0]
    if any(d.get("merge_base") != first.get("merge_base") for d in docs):
        raise UsageError("these regress reports compare different bases; merge the shards of one run")
    shards = [shard_of_report(d) for d in docs]
    if None in shards:  # pooled cases would count twice, or miss a shard's
        raise UsageError("merge only the reports of `regress --shard I/N --json`, every shard of one run")
    check_whole([s for s in shards if s is not None])
    by_name: dict[str, list[dict[str, Any]]] = {}
    for d in docs:
        for p in d.get("prompts") or []:
            by_name.setdefault(p["name"], []).append(p)
    settings, repeat = first.get("settings") or {}, int(first.get("repeat") or 1)
    verdicts = []
    for name, parts in sorted(by_name.items()):
        v = PromptVerdict(name, parts[0]["status"])
        v.notes = list(dict.fromkeys(n for p in parts for n in p.get("notes") or []))
        v.errors = [e for p in parts for e in p.get("errors") or []]
        v.cases = [c for p in parts for c in p.get("cases") or []]
        compared = [c for c in v.cases if c.get("base_rate") is not None and c.get("new_rate") is not None
                    and c["class"] != "error"]
        if not compared:
            v.ok = not any(not p.get("ok", True) for p in parts)
            verdicts.append(v)
            continue
        base_rates = {str(c["id"]): float(c["base_rate"]) for c in compared}
        new_rates = {str(c["id"]): float(c["new_rate"]) for c in compared}
        v.paired = pair(base_rates, new_rates)
        v.base_metrics = {"pass_rate": sum(base_rates.values()) / len(base_rates)}
        v.new_metrics = {"pass_rate": sum(new_rates.values()) / len(new_rates)}
        gate(v, settings, repeat)
        carried = [r for p in parts for r in p.get("reasons") or [] if not r.startswith(
            ("critical case", "pass_rate")) and "regressed (allowance" not in r]
        v.reasons += list(dict.fromkeys(carried))
        v.ok = not v.reasons
        verdicts.append(v)
    unchanged = sorted(set.intersection(*(set(d.get("unchanged") or []) for d in docs)))
    return RegressReport(base=first["base"], merge_base=first["merge_base"], prompts=verdicts, unchanged=unchanged,
                         calls=sum(int(d.get("calls") or 0) for d in docs), settings=settings, repeat=repeat)
