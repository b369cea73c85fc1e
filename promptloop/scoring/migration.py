"""A model switch judged: each prompt's golden set on the current model and on the target, side by side
(``promptloop migrate``). Plain records, rendered by :mod:`promptloop.scoring.reports` and the terminal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from promptloop.errors import EXIT_FAILED, EXIT_MODEL, EXIT_OK
from promptloop.repo.config import ModelRef
from promptloop.scoring.eval_run import EvalReport
from promptloop.scoring.gate import PromptVerdict


@dataclass
class Side:
    """One model's run of the golden set: what the report sets side by side."""

    model: str
    report: EvalReport

    def usage(self) -> dict[str, Any]:
        u, calls = self.report.summary.usage, max(len(self.report.results), 1)
        cost = u.get("cost_usd")
        return {"model": self.model, "pass_rate": self.report.summary.pass_rate,
                "input_tokens_per_call": u["input_tokens"] / calls,
                "output_tokens_per_call": u["output_tokens"] / calls,
                "cost_per_1000_calls_usd": None if cost is None else cost / calls * 1000,
                "latency_p50_s": u.get("latency_p50_s"), "latency_p95_s": u.get("latency_p95_s")}


@dataclass
class Migration:
    prompt: str
    current: Side
    target: Side
    verdict: PromptVerdict
    repair: Any = None  # with --optimize: what optimising the prompt for the target did (flows.migrate.Repair)

    @property
    def broken(self) -> list[str]:
        return [c.id for c in self.verdict.cases if c.change == "regressed"]

    @property
    def fixed(self) -> list[str]:
        return [c.id for c in self.verdict.cases if c.change == "fixed"]

    @property
    def safe(self) -> bool:
        return self.verdict.ok and not self.verdict.errors

    @property
    def repaired(self) -> bool:
        """Worse as it is, but an optimised prompt for the target passed the gate and was committed."""
        return self.repair is not None and self.repair.shipped is not None


@dataclass
class MigrateReport:
    target: str
    migrations: list[Migration] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 safe, 1 worse (a significant loss or a critical case broken), 3 cases the models could not score."""
        if any(not m.verdict.ok and not m.repaired for m in self.migrations):
            return EXIT_FAILED
        return EXIT_MODEL if any(m.verdict.errors for m in self.migrations) else EXIT_OK


def target_option(ref: ModelRef) -> str:
    """A model as ``-m`` takes it (``NAME@URL`` when it names where it is served)."""
    return f"{ref.name}@{ref.api_base}" if ref.api_base else ref.name
