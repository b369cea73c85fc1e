"""MLflow assessments exported as separate records."""

from __future__ import annotations

from typing import Any

from promptloop.traces.formats.base import ImportState, Parsed
from promptloop.traces.formats.mlflow import feedback_of

NAME = "mlflow_assessment"
PRECEDENCE = 120  # formats are tried in this order: narrow ones before broad ones


def detect(r: dict[str, Any]) -> bool:
    return "assessment_name" in r and "trace_id" in r


def parse(r: dict[str, Any], ctx: ImportState) -> Parsed:
    return Parsed(feedback=[(f"mlflow:{r['trace_id']}", feedback_of(r))])
