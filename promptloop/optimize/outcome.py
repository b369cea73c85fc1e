"""What an optimisation run is asked (``Options``) and what it found (``Scored`` candidates, the ``Plan``,
the ``Outcome``), as plain records shared by the search, the run log, publishing and rendering."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from promptloop.model.budget import Budget
from promptloop.optimize.candidates import Candidate
from promptloop.optimize.publish import Winner
from promptloop.repo.config import Config
from promptloop.scoring.significance import Paired, wilson


@dataclass
class Options:
    rounds: int = 3
    candidates: int = 4
    patience: int = 2
    calls: int | None = None
    tokens: int | None = None
    usd: float | None = None
    repeat: int = 1
    judge_repeat: int = 1  # judge calls per output: a change resting on a verdict they split on is not evidence
    target: float | None = None
    slice_size: int = 8
    max_chars: int = 8000
    alpha: float = 0.05
    tolerance: float = 0.02
    seed: int = 0
    rewrite_tool_descriptions: bool = False  # candidates may describe the tools anew (never rename or re-type them)
    prefer_cheaper: bool = False  # of two candidates whose scores do not differ significantly, keep the cheaper

    @classmethod
    def from_config(cls, config: Config, **overrides: Any) -> Options:
        b, r = config.budget, config.regress
        opts = cls(rounds=b["rounds"], candidates=b["candidates"], patience=b["patience"], calls=b.get("calls"),
                   tokens=b.get("tokens"), usd=b.get("usd"), repeat=r["repeats"],
                   judge_repeat=r["judge_repeats"], alpha=r["alpha"],
                   tolerance=r["tolerance"])
        for k, v in overrides.items():
            if v is not None:
                setattr(opts, k, v)
        return opts

    def budget(self) -> Budget:
        """The caps the run's model client is opened with (``open_client(..., budget=...)``)."""
        return Budget(calls=self.calls, tokens=self.tokens, usd=self.usd)


@dataclass
class Scored:
    candidate: Candidate
    slice_rate: float | None = None
    full_rate: float | None = None
    rates: dict[str, float] = field(default_factory=dict)
    status: str = "pending"  # rejected | stopped-early | accepted | not-accepted | error
    reason: str = ""
    paired: Paired | None = None
    fixed_failures: list[str] = field(default_factory=list)
    tokens_per_call: float | None = None  # input and output tokens, over the full evaluation's calls
    cost_per_call: float | None = None  # USD, when the model is priced

    def log(self) -> dict[str, Any]:
        c = self.candidate
        return {"id": c.id, "origin": c.origin, "rationale": c.rationale, "parent": c.parent, "demos": c.demos,
                "status": self.status, "reason": self.reason, "slice_rate": self.slice_rate,
                "full_rate": self.full_rate, "fixed_failures": self.fixed_failures,
                "regressed": self.paired.regressed if self.paired else [], "messages": c.messages,
                "output": c.output, **({"tools": c.tools} if c.tools is not None else {}),
                "tokens_per_call": self.tokens_per_call, "cost_per_call": self.cost_per_call,
                "interval": self.interval()}

    def interval(self) -> list[float] | None:
        """The 95% interval of the full pass rate (Wilson, over the cases scored): how far apart two candidates'
        rates must be before the difference means anything."""
        if self.full_rate is None or not self.rates:
            return None
        return list(wilson(sum(r >= 0.5 for r in self.rates.values()), len(self.rates)))


@dataclass
class Plan:
    cases: int
    failures: int
    shown: list[str]
    heldout: list[str]
    estimate_calls: int
    estimate_tokens: int
    resolution: str = ""  # what the cases can tell apart, when a small golden set makes comparisons coin flips

    def log(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Outcome:
    prompt: str
    status: str  # improved | no-improvement | nothing-to-fix | dry-run
    plan: Plan
    baseline_rate: float = 0.0
    baseline_metrics: dict[str, Any] = field(default_factory=dict)
    winner: Scored | None = None
    winner_metrics: dict[str, Any] = field(default_factory=dict)
    candidates: list[Scored] = field(default_factory=list)
    stop_reason: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
    rounds: int = 0
    model_errors: int = 0  # proposer calls and candidates that failed: "no better prompt" is then unproven
    baseline_messages: list[dict[str, str]] = field(default_factory=list)
    test_rates: tuple[float, float] | None = None  # (baseline, winner) on the held-out test part
    baseline_output: dict[str, Any] = field(default_factory=dict)
    baseline_tools: list[dict[str, Any]] | None = None
    compared_cases: int = 0  # with a winner: the cases baseline_rate and its rate are both over
    rule: str = "the highest pass rate"  # what chose the winner among the accepted candidates
    test_evidence: dict[str, Any] | None = None  # what the held-out test part says (acceptance.held_out_evidence)

    @property
    def improved(self) -> bool:
        return self.winner is not None

    @property
    def winner_id(self) -> str | None:
        return self.winner.candidate.id if self.winner else None

    def candidate_logs(self) -> list[dict[str, Any]]:
        return [c.log() for c in self.candidates]

    def winner_record(self) -> Winner:
        """The winner as plain data for :func:`promptloop.optimize.publish.ship`."""
        assert self.winner is not None
        w = self.winner
        return Winner(messages=w.candidate.messages, output=w.candidate.output, tools=w.candidate.tools,
                      origin=w.candidate.origin,
                      rationale=w.candidate.rationale,
                      demos=len(w.candidate.demos), baseline_rate=self.baseline_rate, rate=w.full_rate or 0.0,
                      baseline_metrics=self.baseline_metrics, metrics=self.winner_metrics,
                      heldout_fixed=len(w.fixed_failures), fixed=w.paired.fixed if w.paired else [],
                      regressed=w.paired.regressed if w.paired else [], usage=self.usage,
                      test_rates=self.test_rates, cases=self.compared_cases,
                      notes=[f"Chosen by: {self.rule}."], test_evidence=self.test_evidence)
