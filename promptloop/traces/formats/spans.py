"""OpenTelemetry attributes to a call: shared by the OTLP, OpenInference and bare-attribute formats."""

from __future__ import annotations

from typing import Any

from promptloop.traces.formats.base import as_float, as_int, digest, maybe_json, params_of
from promptloop.traces.formats.messages import (
    content_text,
    from_chat_response,
    norm_message,
    norm_messages,
    output_of_message,
)
from promptloop.traces.store import Trace, iso, parse_time


def otlp_value(v: Any) -> Any:
    if not isinstance(v, dict):
        return v
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return as_int(v["intValue"])
    if "doubleValue" in v:
        return as_float(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return [otlp_value(x) for x in (v["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in v:
        return {kv["key"]: otlp_value(kv.get("value")) for kv in (v["kvlistValue"] or {}).get("values", [])}
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def otlp_attrs(attrs: Any) -> dict[str, Any]:
    if isinstance(attrs, dict):
        return attrs
    return {kv["key"]: otlp_value(kv.get("value")) for kv in attrs or [] if isinstance(kv, dict) and "key" in kv}


def unflatten(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """``prefix.0.a.b.1.c`` keys into a list of nested dicts (as OpenInference and GenAI flatten them)."""
    root: dict[str, Any] = {}
    for key, value in attrs.items():
        if not key.startswith(prefix + "."):
            continue
        parts = key[len(prefix) + 1:].split(".")
        node = root
        for i, p in enumerate(parts):
            last = i == len(parts) - 1
            if last:
                node[p] = value
            else:
                node = node.setdefault(p, {})

    def listify(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: listify(v) for k, v in node.items()}
            if node and all(k.isdigit() for k in node):
                return [node[k] for k in sorted(node, key=int)]
        return node

    out = listify(root)
    return out if isinstance(out, list) else []


LLM_OPERATIONS = ("chat", "text_completion", "generate_content", "completion", "responses")


def output_of(value: Any) -> Any:
    """A model's answer however a format holds it: text, {"text": ...}, chat choices, a message, messages
    (chat or GenAI `parts`), or a Responses API response."""
    from promptloop.traces.formats.messages import is_responses_output, responses_output

    v = maybe_json(value)
    if isinstance(v, str) or v is None:
        return v
    if is_responses_output(v):
        return responses_output(v)
    if isinstance(v, dict):
        if "choices" in v:
            return from_chat_response(v)[0]
        if "messages" in v:
            outs = norm_messages(v["messages"])
            return output_of_message(outs[-1]) if outs else None
        if "role" in v or "parts" in v:
            return output_of_message(norm_message(v))
        if isinstance(v.get("text"), str):
            return v["text"]
        if isinstance(v.get("content"), str):
            return v["content"]
        return v
    if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
        outs = norm_messages(v)
        return output_of_message(outs[0]) if outs else v
    return v


Call = tuple[list[dict[str, Any]], Any]  # (messages, output) as one convention found them; output None if absent


def _openinference(a: dict[str, Any]) -> Call:
    """OpenInference: ``llm.input_messages`` / ``llm.output_messages`` (nested or flattened), or the older
    ``llm.prompts`` / ``llm.choices``."""
    if "llm.input_messages" in a or any(k.startswith("llm.input_messages.") for k in a):
        messages = norm_messages(a.get("llm.input_messages") or unflatten(a, "llm.input_messages"))
        outs = a.get("llm.output_messages") or unflatten(a, "llm.output_messages")
        return messages, output_of_message(norm_message(outs[0])) if outs else None
    if any(k.startswith("llm.prompts.") for k in a):
        messages = [{"role": "user", "content": p.get("prompt", {}).get("text", "") if isinstance(p, dict) else p}
                    for p in unflatten(a, "llm.prompts")]
        choices = unflatten(a, "llm.choices")
        return messages, choices[0].get("completion", {}).get("text") if choices and isinstance(
            choices[0], dict) else None
    return [], None


def _genai_input(a: dict[str, Any]) -> list[dict[str, Any]] | None:
    """GenAI semconv input, newest convention first; None when the span has none."""
    if "gen_ai.input.messages" in a:
        messages = norm_messages(a["gen_ai.input.messages"])
        system = maybe_json(a.get("gen_ai.system_instructions"))
        if system:
            messages.insert(0, {"role": "system", "content": content_text(system)})
        return messages
    if any(k.startswith("gen_ai.prompt.") for k in a):
        return norm_messages(unflatten(a, "gen_ai.prompt"))
    if a.get("gen_ai.prompt") is not None:  # the messages as one JSON string (GenAI `parts` or chat shape)
        return norm_messages(a["gen_ai.prompt"])
    return None


def _first_output(messages: Any) -> Any:
    outs = norm_messages(messages)
    return output_of_message(outs[0]) if outs else None


def _genai_output(a: dict[str, Any]) -> tuple[bool, Any]:
    """(found, output) from GenAI semconv attributes, newest convention first."""
    if "gen_ai.output.messages" in a:
        return True, _first_output(a["gen_ai.output.messages"])
    if any(k.startswith("gen_ai.completion.") for k in a):
        return True, _first_output(unflatten(a, "gen_ai.completion"))
    if a.get("gen_ai.completion") is not None:
        return True, output_of(a["gen_ai.completion"])
    return False, None


_ROLE_EVENTS = ("gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message", "gen_ai.tool.message")


def _events(events: list[dict[str, Any]], messages: list[dict[str, Any]], output: Any) -> Call:
    """GenAI semconv span events (message events, choices, the older content events, operation details)."""
    for ev in events:
        name, ea = ev.get("name", ""), otlp_attrs(ev.get("attributes"))
        if name in _ROLE_EVENTS:
            messages.append({"role": name.split(".")[1], "content": content_text(maybe_json(ea.get("content")))})
        elif name == "gen_ai.choice":
            msg = maybe_json(ea.get("message"))
            output = output_of_message(norm_message(msg if isinstance(msg, dict) else {"content": msg}))
        elif name == "gen_ai.content.prompt" and ea.get("gen_ai.prompt"):
            text = str(ea["gen_ai.prompt"])
            role, sep, rest = text.partition(": ")
            known = bool(sep) and role in ("user", "system", "assistant")
            messages.append({"role": role if known else "user", "content": rest if known else text})
        elif name == "gen_ai.content.completion" and ea.get("gen_ai.completion") is not None:
            output = ea["gen_ai.completion"]
        elif name == "gen_ai.client.inference.operation.details":
            if "gen_ai.input.messages" in ea:
                messages = norm_messages(ea["gen_ai.input.messages"])
            if "gen_ai.output.messages" in ea:
                output = _first_output(ea["gen_ai.output.messages"])
    return messages, output


def _params(a: dict[str, Any]) -> dict[str, Any]:
    params = {k.removeprefix("gen_ai.request."): v for k, v in a.items()
              if k in ("gen_ai.request.temperature", "gen_ai.request.top_p", "gen_ai.request.max_tokens",
                       "gen_ai.request.seed") and v not in (None, "", -1)}
    inv = maybe_json(a.get("llm.invocation_parameters"))
    if isinstance(inv, dict):
        params.update(params_of(inv))
    return params


def genai_from_attributes(a: dict[str, Any], events: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """The LLM call in a span's attributes (GenAI semconv, any version, or OpenInference); None if none.
    Where conventions overlap, GenAI attributes win over OpenInference ones, and events over both."""
    messages, output = _openinference(a)
    genai_in = _genai_input(a)
    messages = messages if genai_in is None else genai_in
    found, genai_out = _genai_output(a)
    output = genai_out if found else output
    messages, output = _events(events or [], messages, output)
    kind, operation = a.get("openinference.span.kind"), a.get("gen_ai.operation.name")
    if (kind not in (None, "LLM")) or (operation is not None and operation not in LLM_OPERATIONS):
        return None  # an agent, chain, tool or retriever span: not a model call
    if not messages and a.get("input.value") is not None and kind == "LLM":
        messages = norm_messages(a["input.value"])  # JSON (mime application/json) or plain text
    if output is None and a.get("output.value") is not None and kind == "LLM":
        output = output_of(a["output.value"])
    if not (messages or output is not None or kind == "LLM" or operation in LLM_OPERATIONS):
        return None
    itok = as_int(a.get("gen_ai.usage.input_tokens", a.get("gen_ai.usage.prompt_tokens",
                                                            a.get("llm.token_count.prompt"))))
    otok = as_int(a.get("gen_ai.usage.output_tokens", a.get("gen_ai.usage.completion_tokens",
                                                             a.get("llm.token_count.completion"))))
    return {"messages": messages, "output": output,
            "model": a.get("gen_ai.response.model") or a.get("gen_ai.request.model") or a.get("llm.model_name"),
            "params": _params(a), "input_tokens": itok, "output_tokens": otok,
            "cost_usd": as_float(a.get("gen_ai.usage.cost") or a.get("llm.cost.total")),
            "user_id": a.get("user.id") or a.get("enduser.id") or a.get("gen_ai.request.user") or None,
            "session_id": a.get("session.id") or a.get("gen_ai.conversation.id"),
            # Set by promptloop.span_attributes(prompt): an exact match on import, no template guessing.
            "prompt": a.get("promptloop.prompt") or None, "prompt_version": a.get("promptloop.prompt_version") or None}


def span_trace(source: str, a: dict[str, Any], events: list[dict[str, Any]], *, trace_id: str | None,
               sid: str | None, start: Any, end: Any, fallback_id: Any) -> Trace | None:
    call = genai_from_attributes(a, events)
    if call is None:
        return None
    t0, t1 = parse_time(start), parse_time(end)
    # Span ids alone are not unique across vendors' test exports; the span name keeps them apart.
    name = fallback_id.get("name") if isinstance(fallback_id, dict) else None
    tid = f"{source}:{trace_id or ''}:{sid}" + (f":{name}" if name else "") if sid else \
        f"{source}:{digest(fallback_id)}"
    return Trace(id=tid, source=source, group=f"{source}:{trace_id}" if trace_id else tid, time=iso(t0),
                 latency_ms=(t1 - t0) * 1000 if t0 is not None and t1 is not None else None,
                 metadata={"span_name": fallback_id.get("name")} if isinstance(fallback_id, dict) else {},
                 **call)
