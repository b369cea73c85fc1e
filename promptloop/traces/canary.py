"""``promptloop compare``: two prompt versions judged on production traffic (imported traces)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from promptloop.errors import PromptloopError, UsageError
from promptloop.repo.config import Config
from promptloop.scoring.metrics import percentile
from promptloop.scoring.significance import wilson
from promptloop.traces.store import Trace, TraceStore, store_path

Z_ALPHA = 1.959964  # two-sided 95 %
Z_POWER = 0.841621  # 80 % power
MIN_EFFECT = 0.02   # differences smaller than 2 points are not worth settling
MIN_PER_VERSION = 30


@dataclass
class Arm:
    version: str
    traces: int
    judged: int
    passed: int
    latency_p50: float | None
    latency_p95: float | None
    cost_per_call: float | None

    @property
    def rate(self) -> float | None:
        return self.passed / self.judged if self.judged else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.passed, self.judged)


@dataclass
class Comparison:
    prompt: str
    a: Arm
    b: Arm
    verdict: str  # promote | hold | not enough traffic
    reason: str
    p_value: float | None = None
    more_needed: int = 0


def arm(version: str, traces: list[Trace]) -> Arm:
    judged = [t for t in traces if t.verdict in ("pass", "fail")]
    lat = [t.latency_ms for t in traces if t.latency_ms is not None]
    cost = [t.cost_usd for t in traces if t.cost_usd is not None]
    return Arm(version, len(traces), len(judged), sum(1 for t in judged if t.verdict == "pass"),
               percentile(lat, 0.5), percentile(lat, 0.95), sum(cost) / len(cost) if cost else None)


def required_n(p1: float, p2: float, effect: float) -> int:
    """Traces per version for a two-proportion test to detect ``effect`` at α=0.05 with 80 % power."""
    var = p1 * (1 - p1) + p2 * (1 - p2)
    var = max(var, 2 * 0.05 * 0.95)  # rates at 0 or 1 still carry sampling noise
    return math.ceil((Z_ALPHA + Z_POWER) ** 2 * var / effect ** 2)


def decide(a: Arm, b: Arm) -> tuple[str, str, float | None, int]:
    if a.judged < MIN_PER_VERSION or b.judged < MIN_PER_VERSION:
        need = max(0, MIN_PER_VERSION - a.judged) + max(0, MIN_PER_VERSION - b.judged)
        return ("not enough traffic", f"fewer than {MIN_PER_VERSION} traces with feedback per version", None,
                need)
    pa, pb = a.passed / a.judged, b.passed / b.judged
    pooled = (a.passed + b.passed) / (a.judged + b.judged)
    se = math.sqrt(pooled * (1 - pooled) * (1 / a.judged + 1 / b.judged)) or 1e-12
    z = (pb - pa) / se
    p = math.erfc(abs(z) / math.sqrt(2))
    if p < 0.05:
        if pb > pa:
            return "promote", f"{b.version} passes more often ({pb:.1%} vs {pa:.1%}, p={p:.3f})", p, 0
        return "hold", f"{b.version} passes less often ({pb:.1%} vs {pa:.1%}, p={p:.3f})", p, 0
    effect = max(abs(pb - pa), MIN_EFFECT)
    need = required_n(pa, pb, effect)
    more = max(0, need - a.judged) + max(0, need - b.judged)
    if more == 0:
        return "hold", (f"no difference of {MIN_EFFECT:.0%} or more ({pb:.1%} vs {pa:.1%}, p={p:.2f}); "
                        f"keep {a.version}"), p, 0
    return ("not enough traffic", f"difference {pb - pa:+.1%} not significant yet (p={p:.2f})", p, more)


def matches(version: str, wanted: str, aliases: set[str]) -> bool:
    return bool(version) and (version == wanted or version in aliases or any(
        version.startswith(a) or a.startswith(version) for a in aliases if len(a) >= 7 and len(version) >= 7))


def compare(config: Config, prompt: str, a: str, b: str) -> Comparison:
    aliases = {a: {a}, b: {b}}
    try:  # git revisions name versions too: the prompt file's blob at that revision
        from promptloop.git.commits import blob_id, open_repo, relpath
        from promptloop.repo.prompts import resolve_prompt_path

        repo = open_repo(config.root)
        rel = relpath(repo, resolve_prompt_path(config, prompt))
        for v in (a, b):
            blob = blob_id(repo, v, rel)
            if blob:
                aliases[v].add(blob)
    except PromptloopError:
        pass
    with TraceStore(store_path(config.cache_dir)) as store:
        traces = store.query(prompt=prompt)
    if not traces:
        raise UsageError(f"no imported traces of prompt '{prompt}'; run `promptloop import FILE` first")
    arms = [arm(v, [t for t in traces if matches(t.prompt_version or "", v, aliases[v])]) for v in (a, b)]
    known = sorted({t.prompt_version or "?" for t in traces})
    for x in arms:
        if x.traces == 0:
            raise UsageError(f"no traces of {prompt} version '{x.version}'; versions seen: {', '.join(known)[:300]}")
    verdict, reason, p, more = decide(arms[0], arms[1])
    return Comparison(prompt, arms[0], arms[1], verdict, reason, p, more)


def comparison_dict(c: Comparison) -> dict[str, Any]:
    def side(x: Arm) -> dict[str, Any]:
        lo, hi = x.interval
        return {"version": x.version, "traces": x.traces, "with_feedback": x.judged, "pass_rate": x.rate,
                "ci95": [lo, hi], "latency_p50_ms": x.latency_p50, "latency_p95_ms": x.latency_p95,
                "cost_per_call_usd": x.cost_per_call}

    return {"prompt": c.prompt, "a": side(c.a), "b": side(c.b), "verdict": c.verdict, "reason": c.reason,
            "p_value": c.p_value, "more_traces_needed": c.more_needed}
