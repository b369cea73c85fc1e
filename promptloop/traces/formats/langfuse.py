"""Langfuse trace exports: GENERATION observations; scores and corrections become feedback."""

from __future__ import annotations

from typing import Any

from promptloop.traces.formats.base import ImportState, Parsed, as_float, as_int, maybe_json, score_feedback
from promptloop.traces.formats.messages import (
    content_text,
    from_chat_response,
    is_responses_output,
    norm_message,
    norm_messages,
    output_of_message,
    responses_output,
)
from promptloop.traces.store import Trace, parse_time

NAME = "langfuse"
PRECEDENCE = 90  # formats are tried in this order: narrow ones before broad ones


def detect(r: dict[str, Any]) -> bool:
    return ("trace" in r and "observations" in r) or ("observations" in r and "id" in r)


def langfuse_io(value: Any) -> tuple[list[dict[str, Any]], Any]:
    """Messages from a generation's input, whatever SDK wrote it (OpenAI, GenAI parts, Gemini)."""
    v = maybe_json(value)
    if isinstance(v, dict) and "contents" in v:
        contents = v["contents"]
        if isinstance(contents, str):
            return [{"role": "user", "content": contents}], v.get("model")
        return norm_messages(contents), v.get("model")
    return norm_messages(v) if v is not None else [], None


def langfuse_output(value: Any) -> Any:
    v = maybe_json(value)
    if is_responses_output(v):
        return responses_output(v)
    if isinstance(v, dict):
        if "candidates" in v:  # Gemini
            cand = (v["candidates"] or [{}])[0]
            return content_text((cand.get("content") or {}).get("parts"))
        if "message" in v:
            return output_of_message(norm_message(v["message"]))
        if "choices" in v:
            return from_chat_response(v)[0]
        if "role" in v and ("content" in v or "parts" in v):
            return output_of_message(norm_message(v))
    if isinstance(v, list) and v and isinstance(v[-1], dict) and "role" in v[-1]:
        return output_of_message(norm_message(v[-1]))
    return v


def parse(r: dict[str, Any], ctx: ImportState) -> Parsed:
    trace: dict[str, Any] = r["trace"] if isinstance(r.get("trace"), dict) else r
    observations = r.get("observations") or trace.get("observations") or []
    group = f"langfuse:{trace['id']}"
    out = Parsed()
    per_call: dict[str, list[Any]] = {}
    for s in [*(trace.get("scores") or []), *(trace.get("corrections") or [])]:
        if s.get("observationId"):  # a judgement of one generation: that call's own feedback
            per_call.setdefault(str(s["observationId"]), []).append(score_feedback(s))
        else:  # of the whole trace: every generation in it inherits it
            out.feedback.append((group, score_feedback(s)))
    gens = [o for o in observations if o.get("type") == "GENERATION"]
    if not gens:
        out.skipped.append(f"langfuse trace {trace['id']} has no GENERATION observation")
    for o in gens:
        messages, model_in = langfuse_io(o.get("input"))
        usage = o.get("usageDetails") or o.get("usage") or {}
        latency = as_float(o.get("latency"))
        if latency is None:
            t0, t1 = parse_time(o.get("startTime")), parse_time(o.get("endTime"))
            latency = (t1 - t0) if t0 is not None and t1 is not None else None
        meta = maybe_json(trace.get("metadata"))
        params = maybe_json(o.get("modelParameters")) or {}
        out.traces.append(Trace(
            id=f"langfuse:{trace['id']}:{o['id']}", source="langfuse", group=group,
            time=o.get("startTime") or trace.get("timestamp"), prompt=o.get("promptName"),
            prompt_version=str(o["promptVersion"]) if o.get("promptVersion") is not None else None,
            model=o.get("model") or model_in, params=params if isinstance(params, dict) else {},
            messages=messages, output=langfuse_output(o.get("output")),
            latency_ms=latency * 1000 if latency is not None else None,
            input_tokens=as_int(usage.get("input", usage.get("promptTokens"))),
            output_tokens=as_int(usage.get("output", usage.get("completionTokens"))),
            cost_usd=as_float(o.get("totalCost") or o.get("calculatedTotalCost")),
            session_id=trace.get("sessionId"), user_id=trace.get("userId"), feedback=per_call.get(str(o["id"]), []),
            metadata={"trace_name": trace.get("name"), "tags": trace.get("tags") or [],
                      **({"metadata": meta} if isinstance(meta, dict) else {})}))
    return out
