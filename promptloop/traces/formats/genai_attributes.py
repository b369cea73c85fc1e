"""A bare GenAI attribute map (a span's attributes exported on their own)."""

from __future__ import annotations

from typing import Any

from promptloop.traces.formats.base import ImportState, Parsed
from promptloop.traces.formats.spans import span_trace

NAME = "genai_attributes"
PRECEDENCE = 80  # formats are tried in this order: narrow ones before broad ones


def detect(r: dict[str, Any]) -> bool:
    return any(k.startswith("gen_ai.") for k in r)


def parse(r: dict[str, Any], ctx: ImportState) -> Parsed:
    """A bare attribute map (a span's attributes exported on their own)."""
    source = "openinference" if "openinference.span.kind" in r else "otel"
    t = span_trace(source, r, [], trace_id=None, sid=None, start=None, end=None, fallback_id=r)
    return Parsed([t] if t else [], skipped=[] if t else ["attributes describe no LLM call"])
