"""Assertions: one pure function per type, in a registry, each returning pass/score/reason.

Hard assertions gate: a case that fails one scores 0 whatever the soft ones say. A family of
checks lives in one module; to add a type, write a function decorated with ``@evaluator("name")``
in the family it belongs to (or a new module imported below) and add the name to the prompt
schema's ``assertion.type`` enum (a test keeps the two equal).
"""

from promptloop.scoring.assertions import judge, numeric, python, structure, text
from promptloop.scoring.assertions.base import (
    REGISTRY,
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

__all__ = ["JUDGE_FORMAT", "JUDGE_PROMPT", "REGISTRY", "Context", "Evaluator", "Result", "evaluator", "extract_label",
           "judge", "judge_messages", "normalise", "numeric", "parse_json", "parse_number", "python", "ratio", "run",
           "structure", "text"]
