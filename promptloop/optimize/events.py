"""What the optimiser tells its watcher as it works: small records, each logged in the run log (as
``{"kind": ..., **fields}``) and shown by the terminal view as it happens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Estimate:
    kind: ClassVar[str] = "estimate"
    calls: int
    tokens: int
    cases: int


@dataclass(frozen=True)
class Stage:
    """A long step starts (the baseline, the demonstration race)."""

    kind: ClassVar[str] = "stage"
    text: str


@dataclass(frozen=True)
class Baseline:
    kind: ClassVar[str] = "baseline"
    rate: float
    failures: int
    plan: dict[str, Any]
    messages: list[dict[str, Any]]
    output: dict[str, Any]
    tools: list[dict[str, Any]] | None = None  # the prompt's tools, when it has any


@dataclass(frozen=True)
class Round:
    kind: ClassVar[str] = "round"
    round: int
    of: int


@dataclass(frozen=True)
class CandidateScored:
    """A candidate's verdict (``Scored.log()`` of the outcome) and the budget spent so far."""

    kind: ClassVar[str] = "candidate"
    candidate: dict[str, Any]
    budget: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Note:
    kind: ClassVar[str] = "note"
    text: str


Event = Estimate | Stage | Baseline | Round | CandidateScored | Note
Watcher = Callable[[Event], None]


def as_log(event: Event) -> dict[str, Any]:
    """The run log's form of an event: its kind and its fields (a candidate's fields at the top level)."""
    data = asdict(event)
    if isinstance(event, CandidateScored):
        data = {**event.candidate, "budget": event.budget}
    return {"kind": event.kind, **data}
