"""OpenInference spans, nested or flattened (``llm.input_messages.0.message.role``)."""

from __future__ import annotations

from typing import Any

from promptloop.traces.formats import genai_attributes
from promptloop.traces.formats.base import ImportState, Parsed, span_id
from promptloop.traces.formats.spans import otlp_attrs, span_trace

NAME = "openinference"
PRECEDENCE = 70  # formats are tried in this order: narrow ones before broad ones


def detect(r: dict[str, Any]) -> bool:
    return ("attributes" in r and ("context" in r or "span_kind" in r)) or "openinference.span.kind" in r or \
        any(k.startswith("llm.input_messages") for k in r)


def parse(r: dict[str, Any], ctx: ImportState) -> Parsed:
    if "attributes" not in r:  # a flattened attribute map on its own
        return genai_attributes.parse(r, ctx)
    a = otlp_attrs(r["attributes"])
    if a.get("openinference.span.kind") not in (None, "LLM"):
        return Parsed(skipped=[f"{a.get('openinference.span.kind')} span '{r.get('name')}' is not an LLM call"])
    c = r.get("context") or {}
    t = span_trace("openinference", a, r.get("events") or [], trace_id=span_id(c.get("trace_id")),
                   sid=span_id(c.get("span_id")), start=r.get("start_time"), end=r.get("end_time"), fallback_id=r)
    return Parsed([t] if t else [], skipped=[] if t else ["span holds no LLM call"])
