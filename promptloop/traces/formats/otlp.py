"""OpenTelemetry spans in OTLP JSON (GenAI semantic conventions, current and deprecated forms)."""

from __future__ import annotations

from typing import Any

from promptloop.traces.formats.base import ImportState, Parsed, as_int, span_id
from promptloop.traces.formats.spans import otlp_attrs, span_trace

NAME = "otlp"
PRECEDENCE = 60  # formats are tried in this order: narrow ones before broad ones


def detect(r: dict[str, Any]) -> bool:
    return "resourceSpans" in r or "resourceSpan" in r or "scopeSpans" in r


def parse(r: dict[str, Any], ctx: ImportState) -> Parsed:
    rs_list = r.get("resourceSpans") or ([r["resourceSpan"]] if "resourceSpan" in r else [r])
    out = Parsed()
    for rs in rs_list:
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            for span in ss.get("spans") or []:
                a = otlp_attrs(span.get("attributes"))
                t = span_trace("otel", a, span.get("events") or [], trace_id=span_id(span.get("traceId")),
                               sid=span_id(span.get("spanId")), start=as_int(span.get("startTimeUnixNano")),
                               end=as_int(span.get("endTimeUnixNano")), fallback_id=span)
                if t is None:
                    out.skipped.append(f"span '{span.get('name')}' is not an LLM call")
                else:
                    out.traces.append(t)
    return out
