"""The assertion registry, the Result every check returns, and the value readers checks share."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptloop.repo.assertion_types import TYPES
from promptloop.repo.prompts import Assertion, Case


@dataclass
class Result:
    type: str
    passed: bool
    score: float
    reason: str = ""
    hard: bool = True
    weight: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """What an assertion may look at besides the output and the case."""

    output_schema: dict[str, Any] | None = None
    root: Path | None = None
    judge_text: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # the answer's calls (model.request.tool_call)
    tools: list[dict[str, Any]] = field(default_factory=list)  # the tools the prompt declares


Check = Callable[[str, Assertion, Case, Context], Result]


@dataclass(frozen=True)
class Evaluator:
    check: Check
    hard: bool


REGISTRY: dict[str, Evaluator] = {}


def evaluator(name: str) -> Callable[[Check], Check]:
    """Register the check of the assertion type ``name`` (its spec, hard or soft, is ``repo.assertion_types``)."""
    def register(fn: Check) -> Check:
        REGISTRY[name] = Evaluator(fn, TYPES[name].hard)
        return fn

    return register


@dataclass(frozen=True)
class Aggregated:
    """A type's metrics over a run's scored samples (and, for labels, the per-label counts)."""

    metrics: dict[str, float | None]
    labels: dict[str, dict[str, int]] | None = None
    details: dict[str, Any] = field(default_factory=dict)  # further tables, by name (e.g. per tool)


@dataclass(frozen=True)
class Aggregator:
    aggregate: Callable[[list[Result]], Aggregated]
    lower_is_better: tuple[str, ...] = ()  # metrics whose threshold is a ceiling


AGGREGATORS: dict[str, Aggregator] = {}


def aggregator(name: str, *, lower_is_better: tuple[str, ...] = ()) -> Callable[[Any], Any]:
    """Register how the results of the assertion type ``name`` add up to a run's metrics."""
    def register(fn: Callable[[list[Result]], Aggregated]) -> Callable[[list[Result]], Aggregated]:
        AGGREGATORS[name] = Aggregator(fn, lower_is_better)
        return fn

    return register


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def run(output: str, a: Assertion, case: Case, ctx: Context) -> Result:
    ev = REGISTRY[a.type]
    try:
        r = ev.check(output, a, case, ctx)
    except Exception as e:  # a user's python check or a bad regex must not stop the run
        r = Result(a.type, False, 0.0, f"{a.type} failed to run: {e.__class__.__name__}: {e}")
    r.hard = ev.hard
    r.weight = a.weight
    return r


_PUNCT = " \t\r\n\"'`.,;:!?()[]{}<>*_"


def normalise(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return re.sub(r"\s+", " ", text.strip(_PUNCT)).casefold()


def expected_of(a: Assertion, case: Case) -> Any:
    return a.value if a.value is not None else case.expected


_FENCE = re.compile(r"^\s*```[A-Za-z0-9]*\s*\n?(.*?)\n?```\s*$", re.S)


def parse_json(output: str, *, lenient: bool = True) -> Any:
    """The JSON value in ``output``: the whole text, a fenced block, or (lenient) the first object."""
    text = output.strip()
    m = _FENCE.match(text)
    if m:
        text = m.group(1).strip()
    try:
        return json.loads(text)
    except ValueError:
        if not lenient:
            raise
    start = text.find("{")
    while start != -1:
        try:
            value, _ = json.JSONDecoder().raw_decode(text, start)
            return value
        except ValueError:
            start = text.find("{", start + 1)
    raise ValueError("no JSON object found")


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?|-?\.\d+")


def parse_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        return None
    found = _NUMBER.findall(value.replace("$", ""))
    if not found:
        return None
    try:  # the last number is the answer in "... so the total is 18"
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None


def ratio(num: int, den: int, vacuous: bool) -> float:
    """num/den; with nothing to count, 1.0 only when the other side is also clean."""
    return num / den if den else (1.0 if vacuous else 0.0)


def short(value: Any, n: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= n else text[: n - 1] + "…"
