"""Provider-native conversations as chat messages: Anthropic content blocks, Bedrock Converse blocks and Gemini
parts (REST camelCase and the Python SDK's snake_case), with tool calls (ids kept) and tool results as text;
and tool definitions in every provider's shape as the OpenAI ``{type: function, function: {...}}`` one."""

from __future__ import annotations

import json
from typing import Any

from promptloop.traces.formats.base import maybe_json

Message = dict[str, Any]


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    return {**({"id": str(call_id)} if call_id else {}), "name": name if isinstance(name, str) or name is None
            else str(name), "arguments": maybe_json(arguments)}


def turns(role: str, text: str, calls: list[dict[str, Any]], results: list[Message]) -> list[Message]:
    """One provider turn as chat messages: tool results first (each its own tool message), then the turn."""
    out = list(results)
    if text or calls or not results:
        turn: Message = {"role": role, "content": text}
        if calls:
            turn["tool_calls"] = calls
        out.append(turn)
    return out


# ---------------------------------------------------------------- Anthropic Messages
def anthropic_blocks(role: str, content: Any) -> list[Message]:
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    texts, calls, results = [], [], []
    for b in content or []:
        kind = b.get("type") if isinstance(b, dict) else None
        if kind == "text":
            texts.append(str(b.get("text", "")))
        elif kind == "tool_use":
            calls.append(call(b.get("id"), b.get("name"), b.get("input")))
        elif kind == "tool_result":
            inner = b.get("content")
            text = "".join(x.get("text", "") for x in inner if isinstance(x, dict)) if isinstance(inner, list) else \
                as_text(inner if inner is not None else "")
            results.append({"role": "tool", "content": text, "tool_call_id": str(b.get("tool_use_id", ""))})
    return turns(role, "".join(texts), calls, results)


def anthropic_system(system: Any) -> list[Message]:
    text = system if isinstance(system, str) else "".join(
        b.get("text", "") for b in system or [] if isinstance(b, dict))
    return [{"role": "system", "content": text}] if text else []


# ---------------------------------------------------------------- Bedrock Converse
def converse_blocks(role: str, content: Any) -> list[Message]:
    texts, calls, results = [], [], []
    for b in content or []:
        if not isinstance(b, dict):
            continue
        if "text" in b:
            texts.append(str(b["text"]))
        elif "toolUse" in b:
            u = b["toolUse"]
            calls.append(call(u.get("toolUseId"), u.get("name"), u.get("input")))
        elif "toolResult" in b:
            r = b["toolResult"]
            text = "".join(x["text"] if "text" in x else as_text(x.get("json")) for x in r.get("content") or []
                           if isinstance(x, dict))
            results.append({"role": "tool", "content": text, "tool_call_id": str(r.get("toolUseId", ""))})
    return turns(role, "".join(texts), calls, results)  # reasoningContent is the model's, not the conversation


# ---------------------------------------------------------------- Gemini
def _either(p: dict[str, Any], camel: str, snake: str) -> Any:
    return p.get(camel) if camel in p else p.get(snake)


def gemini_parts(role: str, parts: Any) -> list[Message]:
    """A Gemini turn (``functionCall``/``function_call`` parts and their responses included) as chat messages."""
    texts, calls, results = [], [], []
    for p in parts or []:
        if not isinstance(p, dict) or p.get("thought"):
            continue
        fc, fr = _either(p, "functionCall", "function_call"), _either(p, "functionResponse", "function_response")
        if isinstance(p.get("text"), str):
            texts.append(p["text"])
        elif isinstance(fc, dict):
            calls.append(call(fc.get("id"), fc.get("name"), fc.get("args")))
        elif isinstance(fr, dict):
            results.append({"role": "tool", "content": as_text(fr.get("response")),
                            "tool_call_id": str(fr.get("id") or fr.get("name") or "")})
    return turns("assistant" if role == "model" else role, "".join(texts), calls, results)


def gemini_system(config: Any) -> list[Message]:
    """The system instruction of a Gemini request or its ``config``: text, a Content, or a list of parts."""
    if not isinstance(config, dict):
        return []
    system = _either(config, "systemInstruction", "system_instruction")
    if isinstance(system, dict):
        system = system.get("parts")
    parts = system if isinstance(system, list) else []
    text = system if isinstance(system, str) else "".join(
        p if isinstance(p, str) else str(p.get("text", "")) for p in parts if isinstance(p, (str, dict)))
    return [{"role": "system", "content": text}] if text else []


def gemini_request(req: dict[str, Any]) -> list[Message]:
    """A generateContent request (REST, or the SDK's ``{model, contents, config}``) as chat messages."""
    messages = gemini_system(req) or gemini_system(req.get("config"))
    contents = req.get("contents")
    if isinstance(contents, str):
        return [*messages, {"role": "user", "content": contents}]
    for m in contents or []:
        if isinstance(m, dict):
            parts = m.get("parts")
            messages += gemini_parts(str(m.get("role") or "user"), [{"text": parts}] if isinstance(parts, str)
                                     else parts if isinstance(parts, list) else [])
        elif isinstance(m, str):
            messages.append({"role": "user", "content": m})
    return messages


def gemini_answer(resp: dict[str, Any]) -> Message | None:
    """The answer of a generateContent response, with or without the ``candidates`` wrapper."""
    candidates = resp.get("candidates") or [resp]
    content = (candidates[0] or {}).get("content") if isinstance(candidates[0], dict) else None
    if not isinstance(content, dict):
        return None
    messages = gemini_parts("model", content.get("parts"))
    return messages[-1] if messages else None


# ---------------------------------------------------------------- tool definitions
def tool_definition(t: Any) -> dict[str, Any] | None:
    """One tool definition, in any provider's shape, as ``{type: function, function: {name, ...}}``."""
    t = maybe_json(t)
    if not isinstance(t, dict):
        return None
    if isinstance(t.get("toolSpec"), dict):  # Bedrock
        t = {**t["toolSpec"], "parameters": (t["toolSpec"].get("inputSchema") or {}).get("json")}
    fn = t["function"] if isinstance(t.get("function"), dict) else t
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        return None
    params = next((fn[k] for k in ("parameters", "input_schema", "inputSchema", "parametersJsonSchema",
                                   "parameters_json_schema") if isinstance(fn.get(k), dict)), None)
    out: dict[str, Any] = {"name": name}
    if isinstance(fn.get("description"), str):
        out["description"] = fn["description"]
    if params is not None:
        out["parameters"] = params
    return {"type": "function", "function": out}


def tool_definitions(value: Any) -> list[dict[str, Any]]:
    """Tool definitions from a request's ``tools`` (OpenAI, Anthropic, Bedrock ``toolConfig``, Gemini
    ``function_declarations``, Vercel AI SDK, LangChain), a mapping of name to definition, or JSON of them."""
    value = maybe_json(value)
    if isinstance(value, dict):
        value = value.get("tools") if "tools" in value else [
            {"name": k, **v} if isinstance(v, dict) else v for k, v in value.items()]
    out = []
    for t in value if isinstance(value, list) else []:
        t = maybe_json(t)
        decls = _either(t, "functionDeclarations", "function_declarations") if isinstance(t, dict) else None
        for d in decls if isinstance(decls, list) else [t]:
            found = tool_definition(d)
            if found is not None:
                out.append(found)
    return out
