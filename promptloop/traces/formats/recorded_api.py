"""Recorded HTTP calls (VCR cassettes, request/response logs) of model APIs other than OpenAI chat completions:
the Anthropic Messages API, Bedrock Converse, Gemini generateContent and the OpenAI Responses API. Messages,
tool calls (with their ids) and tool results become the chat shape; the model comes from the URI where the
body lacks it. An interaction with any other endpoint is counted and named, never skipped without a word."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from promptloop.traces.formats.base import ImportState, Parsed, RecordError, as_float, as_int, digest
from promptloop.traces.formats.messages import norm_messages, responses_output
from promptloop.traces.store import Trace

NAME = "recorded_api"
PRECEDENCE = 28  # formats are tried in this order: narrow ones before broad ones (openai_log is 30)

Message = dict[str, Any]


def detect(r: dict[str, Any]) -> bool:
    return "uri" in r and "request" in r and "response" in r and "chat/completions" not in str(r.get("uri"))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    return {**({"id": str(call_id)} if call_id else {}), "name": name, "arguments": arguments}


def _turns(role: str, text: str, calls: list[dict[str, Any]], results: list[Message]) -> list[Message]:
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
            calls.append(_call(b.get("id"), b.get("name"), b.get("input")))
        elif kind == "tool_result":
            inner = b.get("content")
            text = "".join(x.get("text", "") for x in inner if isinstance(x, dict)) if isinstance(inner, list) else \
                _text(inner if inner is not None else "")
            results.append({"role": "tool", "content": text, "tool_call_id": str(b.get("tool_use_id", ""))})
    return _turns(role, "".join(texts), calls, results)


def anthropic(req: dict[str, Any], resp: dict[str, Any]) -> dict[str, Any]:
    system = req.get("system")
    messages: list[Message] = [{"role": "system", "content": system if isinstance(system, str) else "".join(
        b.get("text", "") for b in system if isinstance(b, dict))}] if system else []
    for m in req.get("messages") or []:
        messages += anthropic_blocks(str(m.get("role", "user")), m.get("content"))
    [answer] = anthropic_blocks("assistant", resp.get("content"))[-1:] or [{}]
    usage = resp.get("usage") or {}
    return {"messages": messages, "answer": answer, "model": resp.get("model") or req.get("model"),
            "id": resp.get("id"), "input_tokens": usage.get("input_tokens"),
            "output_tokens": usage.get("output_tokens"),
            "params": {k: req[k] for k in ("temperature", "top_p", "max_tokens") if req.get(k) is not None}}


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
            calls.append(_call(u.get("toolUseId"), u.get("name"), u.get("input")))
        elif "toolResult" in b:
            r = b["toolResult"]
            text = "".join(x["text"] if "text" in x else _text(x.get("json")) for x in r.get("content") or []
                           if isinstance(x, dict))
            results.append({"role": "tool", "content": text, "tool_call_id": str(r.get("toolUseId", ""))})
    return _turns(role, "".join(texts), calls, results)  # reasoningContent is the model's, not the conversation


def converse(req: dict[str, Any], resp: dict[str, Any], uri: str) -> dict[str, Any]:
    system = "".join(b.get("text", "") for b in req.get("system") or [] if isinstance(b, dict))
    messages: list[Message] = [{"role": "system", "content": system}] if system else []
    for m in req.get("messages") or []:
        messages += converse_blocks(str(m.get("role", "user")), m.get("content"))
    message = ((resp.get("output") or {}).get("message") or {})
    [answer] = converse_blocks("assistant", message.get("content"))[-1:] or [{}]
    found = re.search(r"/model/([^/]+)/converse", urlsplit(uri).path)
    usage, config = resp.get("usage") or {}, req.get("inferenceConfig") or {}
    return {"messages": messages, "answer": answer, "model": unquote(found.group(1)) if found else None,
            "input_tokens": usage.get("inputTokens"), "output_tokens": usage.get("outputTokens"),
            "latency_ms": (resp.get("metrics") or {}).get("latencyMs"),
            "params": {k: config[c] for k, c in (("temperature", "temperature"), ("top_p", "topP"),
                                                 ("max_tokens", "maxTokens")) if config.get(c) is not None}}


# ---------------------------------------------------------------- Gemini generateContent
def gemini_parts(role: str, parts: Any) -> list[Message]:
    texts, calls, results = [], [], []
    for p in parts or []:
        if not isinstance(p, dict) or p.get("thought"):
            continue
        if "text" in p:
            texts.append(str(p["text"]))
        elif "functionCall" in p:
            c = p["functionCall"]
            calls.append(_call(c.get("id"), c.get("name"), c.get("args")))
        elif "functionResponse" in p:
            r = p["functionResponse"]
            results.append({"role": "tool", "content": _text(r.get("response")), "tool_call_id": str(
                r.get("id") or r.get("name") or "")})
    return _turns("assistant" if role == "model" else role, "".join(texts), calls, results)


def gemini(req: dict[str, Any], resp: dict[str, Any], uri: str) -> dict[str, Any]:
    system = req.get("systemInstruction") or req.get("system_instruction")
    text = "".join(p.get("text", "") for p in (system or {}).get("parts") or [] if isinstance(p, dict))
    messages: list[Message] = [{"role": "system", "content": text}] if text else []
    for m in req.get("contents") or []:
        messages += gemini_parts(str(m.get("role", "user")), m.get("parts"))
    candidates = resp.get("candidates") or [resp]  # with and without the `candidates` wrapper
    content = (candidates[0] or {}).get("content") or {}
    [answer] = gemini_parts("model", content.get("parts"))[-1:] or [{}]
    found = re.search(r"/models/([^/:]+):", urlsplit(uri).path)
    usage, config = resp.get("usageMetadata") or {}, req.get("generationConfig") or {}
    return {"messages": messages, "answer": answer, "id": resp.get("responseId"),
            "model": resp.get("modelVersion") or (found.group(1) if found else None),
            "input_tokens": usage.get("promptTokenCount"), "output_tokens": usage.get("candidatesTokenCount"),
            "params": {k: config[c] for k, c in (("temperature", "temperature"), ("top_p", "topP"),
                                                 ("max_tokens", "maxOutputTokens")) if config.get(c) is not None}}


# ---------------------------------------------------------------- OpenAI Responses
def responses(req: dict[str, Any], resp: dict[str, Any]) -> dict[str, Any]:
    given = req.get("input")
    messages = [{"role": "user", "content": given}] if isinstance(given, str) else norm_messages(given)
    if req.get("instructions"):
        messages.insert(0, {"role": "system", "content": str(req["instructions"])})
    output = responses_output(resp)
    usage = resp.get("usage") or {}
    return {"messages": messages, "output": output, "model": resp.get("model") or req.get("model"),
            "id": resp.get("id"), "input_tokens": usage.get("input_tokens"),
            "output_tokens": usage.get("output_tokens"), "params": {}}


def _api(uri: str) -> str | None:
    path = urlsplit(uri).path
    if path.endswith("/v1/messages"):
        return "anthropic_messages"
    if path.endswith("/converse"):
        return "bedrock_converse"
    if path.endswith(":generateContent"):
        return "gemini_generate_content"
    if path.endswith("/responses"):
        return "openai_responses"
    return None


def parse(r: dict[str, Any], ctx: ImportState) -> Parsed:
    uri = str(r.get("uri") or "")
    api = _api(uri)
    if api is None:
        return Parsed(skipped=[f"an interaction with {urlsplit(uri).path or uri} is not a model call"])
    req, resp = r.get("request") or {}, r.get("response")
    if not isinstance(req, dict) or not isinstance(resp, dict):
        raise RecordError(f"{api}: request and response bodies must be JSON objects")
    if as_int(r.get("status")) not in (None, 200) or resp.get("error"):
        raise RecordError(f"{api}: the recorded call failed (status {r.get('status')})")
    call = {"anthropic_messages": lambda: anthropic(req, resp), "bedrock_converse": lambda: converse(req, resp, uri),
            "gemini_generate_content": lambda: gemini(req, resp, uri),
            "openai_responses": lambda: responses(req, resp)}[api]()
    answer = call.pop("answer", None)
    output = call.pop("output", None) if "output" in call else (
        answer.get("content") or ({"tool_calls": answer["tool_calls"]} if answer.get("tool_calls") else None)
        if answer else None)
    tid = f"{api}:{call.pop('id', None) or digest(req, resp)}"
    return Parsed([Trace(id=tid, source=NAME, group=tid, model=call["model"], params=call["params"],
                         messages=call["messages"], output=output, input_tokens=as_int(call.get("input_tokens")),
                         output_tokens=as_int(call.get("output_tokens")),
                         latency_ms=as_float(call.get("latency_ms")), metadata={"api": api, "uri": uri})])
