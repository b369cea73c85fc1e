"""promptloop's own trace format (``promptloop schema trace``)."""

from __future__ import annotations

from typing import Any

from promptloop.traces.formats.base import ImportState, Parsed, as_float, as_int
from promptloop.traces.formats.messages import norm_messages
from promptloop.traces.store import Feedback, Trace

NAME = "promptloop"
PRECEDENCE = 10  # formats are tried in this order: narrow ones before broad ones


def detect(r: dict[str, Any]) -> bool:
    return "promptloop_trace" in r


def parse(r: dict[str, Any], ctx: ImportState) -> Parsed:
    fb = [Feedback(kind=f["kind"], value=f.get("value"), name=f.get("name", ""), comment=f.get("comment", ""))
          for f in r.get("feedback") or []]
    if r.get("feedback_for"):  # a feedback line (promptloop.feedback): it decides the trace it names
        return Parsed(feedback=[(f"promptloop:{r['feedback_for']}", f) for f in fb])
    tokens = r.get("tokens") or {}
    t = Trace(id=f"promptloop:{r['id']}", source="promptloop", group=f"promptloop:{r['id']}", time=r.get("time"),
              prompt=r.get("prompt"), prompt_version=r.get("prompt_version"), model=r.get("model"),
              params=r.get("parameters") or {}, messages=norm_messages(r.get("messages") or []),
              inputs=r.get("inputs"), output=r.get("output"), latency_ms=as_float(r.get("latency_ms")),
              input_tokens=as_int(tokens.get("input")), output_tokens=as_int(tokens.get("output")),
              cost_usd=as_float(r.get("cost_usd")), feedback=fb, session_id=r.get("session_id"),
              user_id=r.get("user_id"), metadata=r.get("metadata") or {})
    correction = next((f.value for f in fb if f.kind == "correction"), None)
    t.expected = correction
    return Parsed([t])
