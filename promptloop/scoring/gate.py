"""The regress gate's records and its pure rule: each case's change between a base and a new version,
one verdict per prompt, one report per run, and the rule that judges a verdict (no critical regression,
no more regressions than the allowance, no significant drop beyond the tolerance)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from promptloop.errors import EXIT_FAILED, EXIT_MODEL, EXIT_OK, UsageError
from promptloop.scoring.metrics import LOWER_IS_BETTER
from promptloop.scoring.shards import Shard, check_whole, shard_of_report
from promptloop.scoring.significance import Paired, pair

# What a case did between the versions; a new prompt (no base) has only passing / failing / error.
CHANGES = ("fixed", "regressed", "still failing", "still passing", "passing", "failing", "error")


@dataclass
class CaseChange:
    """One golden case under both versions: its change, and what the report shows of it."""

    id: str
    change: str  # one of CHANGES
    critical: bool = False
    reason: str = ""
    compared: bool = False  # scored under a base version too (else only the new version's side is known)
    base_rate: float | None = None
    new_rate: float | None = None
    output: str | None = None
    expected: Any = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "class": self.change, "critical": self.critical, "reason": self.reason}
        if self.compared:
            out |= {"base_rate": self.base_rate, "new_rate": self.new_rate, "output": self.output,
                    "expected": self.expected}
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CaseChange:
        return cls(id=str(d["id"]), change=str(d["class"]), critical=bool(d.get("critical")),
                   reason=str(d.get("reason") or ""), compared="base_rate" in d, base_rate=d.get("base_rate"),
                   new_rate=d.get("new_rate"), output=d.get("output"), expected=d.get("expected"))


@dataclass
class PromptVerdict:
    name: str
    status: str  # modified | added | deleted | renamed | golden-changed | inputs-changed
    ok: bool = True
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    paired: Paired | None = None
    base_metrics: dict[str, float] = field(default_factory=dict)
    new_metrics: dict[str, float] = field(default_factory=dict)
    cases: list[CaseChange] = field(default_factory=list)
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


def gate(v: PromptVerdict, settings: dict[str, Any], repeat: int) -> None:
    """The gate's rule on a classified verdict: no critical regression, no more regressions than the
    allowance, no significant aggregate drop beyond the tolerance. Sets ``ok``, ``reasons``, ``confidence``."""
    p = v.paired
    assert p is not None
    critical = [c.id for c in v.cases if c.critical and c.change == "regressed"]
    if critical:
        v.reasons.append(f"critical case(s) regressed: {', '.join(critical)}")
    if len(p.settled_regressed) > settings["allowance"]:
        v.reasons.append(f"{len(p.settled_regressed)} case(s) regressed (allowance {settings['allowance']})")
    significant = p.p_worse < settings["alpha"]
    for metric, before in v.base_metrics.items():
        after = v.new_metrics.get(metric)
        if after is None or metric in ("unparsed_numbers", "judge_flip_rate"):  # not the prompt's quality
            continue
        drop = (after - before) if metric in LOWER_IS_BETTER else (before - after)
        if drop > settings["tolerance"] and significant:
            v.reasons.append(f"{metric} {before:.3f} -> {after:.3f} (drop beyond tolerance {settings['tolerance']:g})")
    v.ok = not v.reasons
    v.confidence = (f"{len(p.fixed)} fixed, {len(p.regressed)} regressed of {p.n} cases × {repeat} sample(s); "
                    f"sign test p={p.p_worse:.3f} (the chance of this many regressions if both versions were "
                    f"equally good; {'significant' if significant else 'not significant'} at α={settings['alpha']:g})"
                    + (f"; {len(v.errors)} case(s) not compared: their model calls failed" if v.errors else "")
                    + (f"; {len(p.noisy)} change(s) within the judge's noise (its repeated calls split), not counted: "
                       f"{', '.join(p.noisy[:5])}" if p.noisy else ""))


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
    verdicts = [_merge_verdict(name, parts, settings, repeat) for name, parts in sorted(by_name.items())]
    unchanged = sorted(set.intersection(*(set(d.get("unchanged") or []) for d in docs)))
    return RegressReport(base=first["base"], merge_base=first["merge_base"], prompts=verdicts, unchanged=unchanged,
                         calls=sum(int(d.get("calls") or 0) for d in docs), settings=settings, repeat=repeat)


def _merge_verdict(name: str, parts: list[dict[str, Any]], settings: dict[str, Any], repeat: int) -> PromptVerdict:
    v = PromptVerdict(name, parts[0]["status"])
    v.notes = list(dict.fromkeys(n for p in parts for n in p.get("notes") or []))
    v.errors = [e for p in parts for e in p.get("errors") or []]
    v.cases = [CaseChange.from_dict(c) for p in parts for c in p.get("cases") or []]
    compared = [c for c in v.cases if c.base_rate is not None and c.new_rate is not None and c.change != "error"]
    if not compared:
        v.ok = not any(not p.get("ok", True) for p in parts)
        return v
    base_rates = {c.id: float(c.base_rate or 0.0) for c in compared}
    new_rates = {c.id: float(c.new_rate or 0.0) for c in compared}
    v.paired = pair(base_rates, new_rates)
    v.base_metrics = {"pass_rate": sum(base_rates.values()) / len(base_rates)}
    v.new_metrics = {"pass_rate": sum(new_rates.values()) / len(new_rates)}
    gate(v, settings, repeat)
    carried = [r for p in parts for r in p.get("reasons") or [] if not r.startswith(
        ("critical case", "pass_rate")) and "regressed (allowance" not in r]
    v.reasons += list(dict.fromkeys(carried))
    v.ok = not v.reasons
    return v
