"""One message normaliser for the chat shapes formats carry (OpenAI, GenAI parts, OpenInference, Gemini)."""

from __future__ import annotations

import json
from typing import Any

from promptloop.traces.formats.base import as_int, maybe_json


def content_text(content: Any) -> str:
    """Text of a message content: a string, or a list of parts (OpenAI, GenAI, Gemini, OpenInference)."""
    content = maybe_json(content) if isinstance(content, str) and content[:1] == "[" else content
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


def tool_calls_of(m: dict[str, Any]) -> list[dict[str, Any]]:
    calls = []
    for c in m.get("tool_calls") or []:
        c = unwrap(c, "tool_call") if isinstance(c, dict) else {}
        fn: dict[str, Any] = c["function"] if isinstance(c.get("function"), dict) else {}
        name = fn.get("name") or c.get("function.name")
        args = fn.get("arguments") if "arguments" in fn else c.get("function.arguments")
        calls.append({**({"id": c["id"]} if c.get("id") else {}), "name": name or c.get("name"),
                      "arguments": maybe_json(args if args is not None else c.get("arguments"))})
    for p in m.get("parts") or []:
        if isinstance(p, dict) and p.get("type") == "tool_call":
            calls.append({"name": p.get("name"), "arguments": maybe_json(p.get("arguments"))})
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


def norm_message(m: Any) -> dict[str, Any] | None:
    if not isinstance(m, dict):
        return None
    content = m.get("content")
    if isinstance(content, str) and len(m) == 2 and m.get("role") in ROLES:  # already plain: the common case
        return {"role": ROLES[m["role"]], "content": content}
    if m.get("type") in RESPONSES_ITEMS:
        return responses_item(m)
    m = unwrap(m, "message")
    role = m.get("role")
    role = ROLES.get(role, role) if isinstance(role, str) else None
    content = m.get("content")
    if content is None:
        content = m.get("contents") or m.get("parts")
    text = content_text(content)
    out: dict[str, Any] = {"role": role or "user", "content": text}
    calls = tool_calls_of(m)
    if calls:
        out["tool_calls"] = calls
    if m.get("tool_call_id"):
        out["tool_call_id"] = m["tool_call_id"]
    if not text and m.get("parts"):
        responses = [p.get("response") for p in m["parts"] if isinstance(p, dict) and "response" in p]
        if responses:
            out["content"] = content_text(responses[0]) if not isinstance(responses[0], (dict, list)) \
                else json.dumps(responses[0], ensure_ascii=False)
    return out


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
    if isinstance(value, dict) and "messages" in value:
        value = value["messages"]
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return [m for m in (norm_message(x) for x in value or []) if m is not None]


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
