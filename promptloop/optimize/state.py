"""What the optimiser's search carries from candidate to candidate (``optimize/search.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from promptloop.optimize.candidates import Candidate, make
from promptloop.optimize.outcome import Plan
from promptloop.repo.prompts import Case, Prompt
from promptloop.scoring.evaluate import CaseResult
from promptloop.scoring.metrics import per_case_rates


@dataclass
class SearchState:
    """What the search carries from candidate to candidate."""

    plan: Plan
    base_rates: dict[str, float]
    incumbent: Candidate
    incumbent_rates: dict[str, float]
    slice_ids: list[str]  # scored first: failures (shown and some held-out) and some passing cases
    demo_pool: list[Case]  # cases a demonstration may be drawn from: never a held-out failure
    shown_failures: list[dict[str, Any]]  # what the proposer is shown of the failures it may see
    history: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def start(cls, prompt: Prompt, cases: dict[str, Case], slice_size: int, base_results: list[CaseResult],
              plan: Plan) -> SearchState:
        base_rates = per_case_rates(base_results)
        by_id = {r.case_id: r for r in base_results}
        shown = [{"inputs": by_id[i].inputs, "expected": by_id[i].expected, "output": by_id[i].output,
                  "reason": by_id[i].reason} for i in plan.shown]
        passing = [i for i, r in base_rates.items() if r >= 0.5]
        size = slice_size
        slice_ids = plan.shown[:size] + plan.heldout[: max(1, size // 2)] + passing[:size]
        demo_pool = [c for cid, c in cases.items()
                     if cid not in plan.heldout and c.expected is not None and not c.review]
        incumbent = make(prompt.messages, "baseline", "the current prompt", demos=prompt.example_ids)
        return cls(plan, base_rates, incumbent, base_rates, slice_ids, demo_pool, shown)
