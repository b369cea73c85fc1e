"""One message normaliser for the chat shapes formats carry (OpenAI, GenAI parts, OpenInference, Gemini)."""

from __future__ import annotations

import json
from typing import Any

from promptloop.traces.formats.base import as_int, maybe_json
from promptloop.traces.formats.provider_messages import gemini_request, tool_definitions


def _parts_like(value: Any) -> bool:
    """Whether decoded JSON is a list of content parts, not some other JSON a message carries as text."""
    return isinstance(value, list) and all(
        isinstance(p, str) or (isinstance(p, dict) and ("type" in p or "text" in p or "message_content" in p
                                                      or "message_content.type" in p)) for p in value)


def content_text(content: Any) -> str:
    """Text of a message content: a string, or a list of parts (OpenAI, GenAI, Gemini, OpenInference)."""
    if isinstance(content, str) and content[:1] == "[":
        decoded = maybe_json(content)
        # Read as parts only when that yields text: a tool's JSON answer (even one whose items have a "type")
        # stays as it was written, never an empty string.
        read = content_text(decoded) if _parts_like(decoded) else ""
        return read or content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    texts = []
    for part in content if isinstance(content, list) else []:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict):
            p = {k.split(".")[-1]: v for k, v in unwrap(part, "message_content").items()}
            text = p.get("text", p.get("content"))
            if p.get("type") in (None, "text", "input_text", "output_text") and isinstance(text, str):
                texts.append(text)
            elif p.get("type") == "tool_result":  # Anthropic: a tool's answer inside a user turn
                texts.append(content_text(p.get("content")))
    return "".join(texts)


def _wire_calls(value: Any) -> list[dict[str, Any]] | None:
    """OpenAI wire tool calls written as a message's text (some SDKs do: ``[{"function": {...}, "id": ...}]``)."""
    decoded = maybe_json(value) if isinstance(value, str) and value[:2] == "[{" else None
    if isinstance(decoded, list) and decoded and all(
            isinstance(c, dict) and isinstance(c.get("function"), dict) and "name" in c["function"]
            for c in decoded):
        return decoded
    return None


def _call_of(c: Any) -> dict[str, Any]:
    """One tool call in the OpenAI, OpenInference, LangChain (``args``) or Vercel AI SDK (``toolName``) shape."""
    c = unwrap(c, "tool_call") if isinstance(c, dict) else {}
    fn: dict[str, Any] = c["function"] if isinstance(c.get("function"), dict) else {}
    name = fn.get("name") or c.get("function.name") or c.get("name") or c.get("toolName")
    args = fn.get("arguments") if "arguments" in fn else c.get("function.arguments")
    for key in ("arguments", "args", "input"):
        if args is None:
            args = c.get(key)
    call_id = c.get("id") or c.get("toolCallId")
    return {**({"id": str(call_id)} if call_id else {}), "name": name if isinstance(name, str) or name is None
            else str(name), "arguments": maybe_json(args)}


def tool_calls_of(m: dict[str, Any]) -> list[dict[str, Any]]:
    extra: dict[str, Any] = m["additional_kwargs"] if isinstance(m.get("additional_kwargs"), dict) else {}
    raw = m.get("tool_calls") or extra.get("tool_calls") or _wire_calls(m.get("content")) or []
    calls = [_call_of(c) for c in raw] if isinstance(raw, list) else []
    for p in m.get("parts") or []:
        if isinstance(p, dict) and p.get("type") == "tool_call":
            calls.append({**({"id": p["id"]} if p.get("id") else {}), "name": p.get("name"),
                          "arguments": maybe_json(p.get("arguments"))})
    content = m.get("content")
    for p in content if isinstance(content, list) else []:
        if isinstance(p, dict) and p.get("type") == "tool_use":  # Anthropic content blocks
            calls.append({**({"id": p["id"]} if p.get("id") else {}), "name": p.get("name"),
                          "arguments": p.get("input")})
    return calls


def unwrap(d: dict[str, Any], key: str) -> dict[str, Any]:
    """OpenInference nests ``{"message": {...}}`` (unflattened) or prefixes keys ``message.``."""
    if isinstance(d.get(key), dict):
        d = {**{k: v for k, v in d.items() if k != key}, **d[key]}
    return {k.removeprefix(key + "."): v for k, v in d.items()}


ROLES = {"system": "system", "user": "user", "assistant": "assistant", "tool": "tool", "model": "assistant",
         "developer": "system"}


def is_tool_definition(m: Any) -> bool:
    """LangChain serialises the tools bound to a model as ``{role: tool, content: {type: function, ...}}``
    items of the input: definitions, not turns of the conversation."""
    content = m.get("content") if isinstance(m, dict) else None
    return (isinstance(m, dict) and m.get("role") == "tool" and isinstance(content, dict)
            and content.get("type") == "function" and isinstance(content.get("function"), dict))


def norm_message(m: Any) -> dict[str, Any] | None:
    if not isinstance(m, dict):
        return None
    content = m.get("content")
    if isinstance(content, str) and len(m) == 2 and m.get("role") in ROLES and content[:2] != "[{":
        return {"role": ROLES[m["role"]], "content": content}  # already plain: the common case
    if m.get("type") in RESPONSES_ITEMS:
        return responses_item(m)
    m = unwrap(m, "message")
    role = m.get("role")
    role = ROLES.get(role, role) if isinstance(role, str) else None
    content = m.get("content")
    if content is None:
        content = m.get("contents") or m.get("parts")
    calls = tool_calls_of(m)
    wire = bool(calls) and _wire_calls(content) is not None
    text = "" if wire else content_text(content)
    if wire and role == "tool":  # Koog logs the assistant's calls as a "tool" turn holding them as JSON text
        role = "assistant"
    out: dict[str, Any] = {"role": role or "user", "content": text}
    if calls:
        out["tool_calls"] = calls
    if m.get("tool_call_id"):
        out["tool_call_id"] = m["tool_call_id"]
    return out


def _responses_of_parts(m: dict[str, Any]) -> list[dict[str, Any]]:
    """GenAI ``tool_call_response`` parts (in a tool turn, or a user turn as pydantic-ai writes them): one tool
    message each, with the call's id and the result as text."""
    out = []
    for p in m.get("parts") or []:
        if isinstance(p, dict) and (p.get("type") == "tool_call_response" or ("response" in p and "type" not in p)):
            result = p.get("response", p.get("result"))
            out.append({"role": "tool", "content": result if isinstance(result, str)
                        else json.dumps(result, ensure_ascii=False),
                        **({"tool_call_id": p["id"]} if p.get("id") else {})})
    return out


def norm_turn(m: Any) -> list[dict[str, Any]]:
    """One item of a conversation as chat messages: none for a tool definition, one per tool result."""
    if is_tool_definition(m):
        return []
    results = _responses_of_parts(m) if isinstance(m, dict) and isinstance(m.get("parts"), list) else []
    one = norm_message(m)
    if results and one is not None and not one["content"] and not one.get("tool_calls"):
        return results
    return [*results, *([one] if one is not None else [])]


# OpenAI Responses API items that are not chat messages (openai-agents, via Langfuse and others).
RESPONSES_ITEMS = ("function_call", "function_call_output", "reasoning", "web_search_call", "file_search_call",
                   "computer_call", "custom_tool_call", "custom_tool_call_output")


def responses_item(m: dict[str, Any]) -> dict[str, Any] | None:
    kind = m.get("type")
    if kind in ("function_call", "custom_tool_call"):
        return {"role": "assistant", "content": "", "tool_calls": [
            {"name": m.get("name"), "arguments": maybe_json(m.get("arguments", m.get("input")))}],
            **({"tool_call_id": m["call_id"]} if m.get("call_id") else {})}
    if kind in ("function_call_output", "custom_tool_call_output"):
        out = m.get("output")
        return {"role": "tool", "content": out if isinstance(out, str) else json.dumps(out, ensure_ascii=False),
                **({"tool_call_id": m["call_id"]} if m.get("call_id") else {})}
    return None  # reasoning and built-in tool calls carry no conversation text


def responses_output(value: Any) -> Any:
    """The answer in a Responses API response (``output`` items): its text, else its tool calls."""
    items = value.get("output") if isinstance(value, dict) else value
    msgs = [norm_message(x) for x in items or [] if isinstance(x, dict)]
    text = "".join(m["content"] for m in msgs if m and m.get("role") == "assistant" and m.get("content"))
    if text:
        return text
    calls = [c for m in msgs if m for c in m.get("tool_calls", [])]
    return {"tool_calls": calls} if calls else None


def is_responses_output(value: Any) -> bool:
    items = value.get("output") if isinstance(value, dict) else None
    return (isinstance(value, dict) and (value.get("object") == "response" or isinstance(items, list))
            and isinstance(items, list) and all(isinstance(x, dict) and "type" in x for x in items))


def norm_messages(value: Any) -> list[dict[str, Any]]:
    value = maybe_json(value)
    if isinstance(value, dict) and "input" in value and "messages" not in value and (
            "instructions" in value or "model" in value):  # a Responses API request
        system = [{"role": "system", "content": value["instructions"]}] if value.get("instructions") else []
        return system + norm_messages(value["input"])
    if isinstance(value, dict) and "contents" in value:  # a Gemini request (REST or the SDK's)
        return gemini_request(value)
    if isinstance(value, dict) and "messages" in value:
        value = value["messages"]
    elif isinstance(value, dict) and "role" in value and ("content" in value or "parts" in value):
        value = [value]  # one message (the Claude Agent SDK records a turn's input so)
    elif isinstance(value, dict) and isinstance(value.get("args"), list) and value["args"] \
            and isinstance(value["args"][0], str):
        value = value["args"][0]  # a positional prompt (LlamaIndex's complete("..."))
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return [msg for x in value or [] for msg in norm_turn(x)] if isinstance(value, list) else []


def tools_in_messages(value: Any) -> list[dict[str, Any]]:
    """The tool definitions a conversation carries as items (see :func:`is_tool_definition`)."""
    value = maybe_json(value)
    if isinstance(value, dict):
        value = value.get("messages")
    return tool_definitions([m["content"] for m in value if is_tool_definition(m)]) if isinstance(value, list) \
        else []


def output_of_message(m: dict[str, Any] | None) -> Any:
    """The text of an answer, or its tool calls as a JSON value when there is no text."""
    if not m:
        return None
    if m.get("content"):
        return m["content"]
    if m.get("tool_calls"):
        return {"tool_calls": m["tool_calls"]}
    return m.get("content")


def from_chat_response(resp: Any) -> tuple[Any, str | None, int | None, int | None]:
    """(output, model, input tokens, output tokens) from an OpenAI-style chat completion."""
    if not isinstance(resp, dict):
        return resp, None, None, None
    choices = resp.get("choices") or []
    msg = norm_message((choices[0] or {}).get("message")) if choices else None
    output = output_of_message(msg)
    if output is None and choices and isinstance(choices[0], dict) and "text" in choices[0]:
        output = choices[0]["text"]
    usage = resp.get("usage") or resp.get("usage_metadata") or {}
    itok = as_int(usage.get("prompt_tokens", usage.get("input_tokens")))
    otok = as_int(usage.get("completion_tokens", usage.get("output_tokens")))
    return output, resp.get("model"), itok, otok
