"""Assertions: one pure function per type, in a registry, each returning pass/score/reason.

Hard assertions gate: a case that fails one scores 0 whatever the soft ones say. A family of
checks lives in one module; to add a type, give it a spec in ``repo/assertion_types.py`` (hard or soft,
needs ``expected``, its value's shape) and write a function decorated with ``@evaluator("name")`` in
the family it belongs to (a test keeps the two sets equal); a type with metrics of its own also has an
``@aggregator("name")`` there (``scoring/metrics.py`` calls it).
"""

from promptloop.scoring.assertions import judge, numeric, python, structure, text, tools
from promptloop.scoring.assertions.base import (
    AGGREGATORS,
    REGISTRY,
    Aggregated,
    Context,
    Evaluator,
    Result,
    evaluator,
    normalise,
    parse_json,
    parse_number,
    ratio,
    run,
)
from promptloop.scoring.assertions.judge import JUDGE_FORMAT, JUDGE_PROMPT, judge_messages
from promptloop.scoring.assertions.text import extract_label

__all__ = [
    "AGGREGATORS",
    "JUDGE_FORMAT",
    "JUDGE_PROMPT",
    "REGISTRY",
    "Aggregated",
    "Context",
    "Evaluator",
    "Result",
    "evaluator",
    "extract_label",
    "judge",
    "judge_messages",
    "normalise",
    "numeric",
    "parse_json",
    "parse_number",
    "python",
    "ratio",
    "run",
    "structure",
    "text",
    "tools",
]
