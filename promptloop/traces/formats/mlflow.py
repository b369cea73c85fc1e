"""MLflow 3 traces (LLM/CHAT_MODEL spans); assessments become feedback."""

from __future__ import annotations

from typing import Any

from promptloop.traces.formats.base import ImportState, Parsed, as_int, digest, maybe_json, span_id
from promptloop.traces.formats.messages import from_chat_response, norm_messages
from promptloop.traces.store import Feedback, Trace, iso, parse_time

NAME = "mlflow"
PRECEDENCE = 110  # formats are tried in this order: narrow ones before broad ones


def detect(r: dict[str, Any]) -> bool:
    return "info" in r and "data" in r and isinstance(r["info"], dict) and "spans" in (r["data"] or {})


def feedback_of(a: dict[str, Any]) -> Feedback:
    name = str(a.get("assessment_name") or a.get("name") or "")
    if a.get("expectation") is not None:
        return Feedback("correction", (a["expectation"] or {}).get("value"), name=name)
    value = (a.get("feedback") or {}).get("value")
    comment = str(a.get("rationale") or "")
    if isinstance(value, bool):
        return Feedback("thumbs", value, name=name, comment=comment)
    if isinstance(value, str) and value.lower() in ("yes", "no", "pass", "fail"):
        return Feedback("thumbs", value.lower() in ("yes", "pass"), name=name, comment=comment)
    return Feedback("score", value, name=name, comment=comment)


def parse(r: dict[str, Any], ctx: ImportState) -> Parsed:
    info, spans = r["info"], (r.get("data") or {}).get("spans") or []
    tid = info.get("trace_id") or info.get("request_id")
    group = f"mlflow:{tid}"
    out = Parsed()
    for a in info.get("assessments") or []:
        out.feedback.append((group, feedback_of(a)))
    meta = info.get("trace_metadata") or info.get("request_metadata") or {}
    llm = [s for s in spans if maybe_json((s.get("attributes") or {}).get("mlflow.spanType")) in
           ("LLM", "CHAT_MODEL")]
    if not llm:
        out.skipped.append(f"mlflow trace {tid} has no LLM or CHAT_MODEL span")
    for s in llm:
        a = {k: maybe_json(v) for k, v in (s.get("attributes") or {}).items()}
        inputs, outputs = a.get("mlflow.spanInputs"), a.get("mlflow.spanOutputs")
        messages = norm_messages(inputs) if isinstance(inputs, list) or (isinstance(inputs, dict) and (
            "messages" in inputs or "input" in inputs)) else []
        output, model, itok, otok = from_chat_response(outputs) if isinstance(outputs, dict) else (outputs, None,
                                                                                                     None, None)
        usage = a.get("mlflow.chat.tokenUsage") or {}
        # MLflow 3 puts times and ids on the span; MLflow 2 under `context` and as start_time/end_time.
        t0 = as_int(s.get("start_time_unix_nano", s.get("start_time")))
        t1 = as_int(s.get("end_time_unix_nano", s.get("end_time")))
        sid = span_id(s.get("span_id") or (s.get("context") or {}).get("span_id"))
        started = info.get("request_time") or info.get("timestamp_ms") or t0
        out.traces.append(Trace(
            id=f"mlflow:{tid}:{sid}" if sid else f"mlflow:{tid}:{digest(s)}", source="mlflow", group=group,
            time=iso(parse_time(started)), model=model or a.get("mlflow.llm.model") or a.get("model"),
            messages=messages, inputs=inputs if isinstance(inputs, dict) and not messages else None,
            output=output, latency_ms=(t1 - t0) / 1e6 if t0 is not None and t1 is not None else None,
            input_tokens=itok if itok is not None else as_int(usage.get("input_tokens")),
            output_tokens=otok if otok is not None else as_int(usage.get("output_tokens")),
            session_id=meta.get("mlflow.trace.session"), user_id=meta.get("mlflow.trace.user"),
            metadata={"span_name": s.get("name"), "trace_name": (info.get("tags") or {}).get("mlflow.traceName")}))
    return out
