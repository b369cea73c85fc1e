"""Langfuse trace exports: GENERATION observations; scores and corrections become feedback.

Whatever SDK wrote a generation (OpenAI, LangChain, GenAI parts, Gemini, Anthropic, the Vercel AI SDK), its
input becomes chat messages, its output text or tool calls, the tools it was given its ``tools``. A generation
that only wraps another recorded generation (the Vercel AI SDK's ``ai.generateText`` around its
``doGenerate``) is not a second model call: it is counted in the summary instead."""

from __future__ import annotations

from typing import Any

from promptloop.traces.formats.base import (
    ImportState,
    Parsed,
    RecordError,
    as_float,
    as_int,
    maybe_json,
    sampling,
    score_feedback,
)
from promptloop.traces.formats.messages import (
    from_chat_response,
    is_responses_output,
    norm_message,
    norm_messages,
    output_of_message,
    responses_output,
    tools_in_messages,
)
from promptloop.traces.formats.provider_messages import gemini_answer, tool_definitions
from promptloop.traces.store import Trace, parse_time

NAME = "langfuse"
PRECEDENCE = 90  # formats are tried in this order: narrow ones before broad ones


def detect(r: dict[str, Any]) -> bool:
    return ("trace" in r and "observations" in r) or ("observations" in r and "id" in r)


def langfuse_io(value: Any) -> tuple[list[dict[str, Any]], Any]:
    """Messages from a generation's input, whatever SDK wrote it, and the model the input names."""
    v = maybe_json(value)
    if v is None:
        return [], None
    return norm_messages(v), v.get("model") if isinstance(v, dict) and isinstance(v.get("model"), str) else None


def _merged(messages: list[dict[str, Any]]) -> Any:
    """One answer from several assistant messages (an SDK that logs each tool call as its own message), read
    as :func:`output_of_message` reads one: the text, else the tool calls."""
    calls = [c for m in messages for c in m.get("tool_calls") or []]
    return output_of_message({"content": "".join(m.get("content") or "" for m in messages),
                              **({"tool_calls": calls} if calls else {})})


def langfuse_output(value: Any) -> Any:
    v = maybe_json(value)
    if is_responses_output(v):
        return responses_output(v)
    if isinstance(v, dict):
        if "candidates" in v or (isinstance(v.get("content"), dict) and "parts" in v["content"]):  # Gemini
            return output_of_message(gemini_answer(v))
        if "message" in v:
            return output_of_message(norm_message(v["message"]))
        if "choices" in v:
            return from_chat_response(v)[0]
        if "role" in v and ("content" in v or "parts" in v):
            return output_of_message(norm_message(v))
    if isinstance(v, list) and v and all(isinstance(x, dict) and "toolName" in x for x in v):  # Vercel AI SDK
        return output_of_message(norm_message({"role": "assistant", "tool_calls": v}))
    if isinstance(v, list) and v and all(isinstance(x, dict) and "role" in x for x in v):
        answers = [m for m in (norm_message(x) for x in v) if m and m["role"] == "assistant"]
        return _merged(answers) if len(answers) > 1 else output_of_message(answers[0] if answers else
                                                                           norm_message(v[-1]))
    return v


def generation_tools(o: dict[str, Any]) -> list[dict[str, Any]]:
    """The tools a generation was given: Langfuse's own field, the request's, the SDK's metadata, or the
    definitions LangChain puts among the messages."""
    v = maybe_json(o.get("input"))
    meta = maybe_json(o.get("metadata"))
    config = v.get("config") if isinstance(v, dict) else None
    for source in (o.get("toolDefinitions"), v.get("tools") if isinstance(v, dict) else None,
                   config.get("tools") if isinstance(config, dict) else None,
                   meta.get("tools") if isinstance(meta, dict) else None):
        found = tool_definitions(source)
        if found:
            return found
    return tools_in_messages(v)


def wrappers(gens: list[dict[str, Any]], observations: list[dict[str, Any]]) -> set[str]:
    """Generations that are an ancestor of another generation: their model call is the inner one's."""
    parent = {str(o.get("id")): str(o.get("parentObservationId")) for o in observations if o.get("parentObservationId")}
    out: set[str] = set()
    for g in gens:
        me = str(g["id"])
        chain, node = [], parent.get(me)
        while node is not None and node not in chain and node != me:
            chain.append(node)
            node = parent.get(node)
        if node != me:  # in a cycle of parents nobody wraps anybody: every call is kept
            out.update(chain)
    return out & {str(g["id"]) for g in gens}


def parse(r: dict[str, Any], ctx: ImportState) -> Parsed:
    trace: dict[str, Any] = r["trace"] if isinstance(r.get("trace"), dict) else r
    observations = r.get("observations") or trace.get("observations") or []
    if not isinstance(observations, list) or not all(isinstance(o, dict) for o in observations):
        raise RecordError("langfuse: `observations` must be a list of objects")
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
    outer = wrappers(gens, observations)
    for o in gens:
        if str(o["id"]) in outer:
            out.skipped.append(f"langfuse generation {o.get('name') or o['id']} wraps a model call recorded by an "
                               "inner generation: counted once")
            continue
        out.traces.append(generation(trace, o, group, per_call.get(str(o["id"]), [])))
    return out


def generation(trace: dict[str, Any], o: dict[str, Any], group: str, feedback: list[Any]) -> Trace:
    messages, model_in = langfuse_io(o.get("input"))
    usage = o.get("usageDetails") or o.get("usage") or {}
    # The times first: `latency` is in seconds in older exports and in milliseconds in newer ones.
    t0, t1 = parse_time(o.get("startTime")), parse_time(o.get("endTime"))
    latency = (t1 - t0) if t0 is not None and t1 is not None else as_float(o.get("latency"))
    meta = maybe_json(trace.get("metadata"))
    params, other = sampling(o.get("modelParameters"))
    first = parse_time(o.get("completionStartTime"))
    ttft = as_float(o.get("timeToFirstToken")) if first is None or t0 is None else first - t0
    return Trace(
        id=f"langfuse:{trace['id']}:{o['id']}", source="langfuse", group=group,
        time=o.get("startTime") or trace.get("timestamp"), prompt=o.get("promptName"),
        prompt_version=str(o["promptVersion"]) if o.get("promptVersion") is not None else None,
        model=o.get("model") or model_in, params=params, messages=messages, output=langfuse_output(o.get("output")),
        tools=generation_tools(o), latency_ms=round(latency * 1000, 3) if latency is not None else None,
        input_tokens=as_int(usage.get("input", usage.get("promptTokens"))),
        output_tokens=as_int(usage.get("output", usage.get("completionTokens"))),
        cost_usd=as_float(o.get("totalCost") or o.get("calculatedTotalCost")),
        session_id=trace.get("sessionId"), user_id=trace.get("userId"), feedback=feedback,
        metadata={"trace_name": trace.get("name"), "tags": trace.get("tags") or [],
                  **({"metadata": meta} if isinstance(meta, dict) else {}),
                  **({"request": other} if other else {}),
                  **({"time_to_first_token_ms": round(ttft * 1000, 3)} if ttft is not None else {})})
