"""Recorded HTTP calls (VCR cassettes, request/response logs) of model APIs other than OpenAI chat completions:
the Anthropic Messages API, Bedrock Converse, Gemini generateContent and the OpenAI Responses API. Messages,
tool calls (with their ids) and tool results become the chat shape; the model comes from the URI where the
body lacks it. An interaction with any other endpoint is counted and named, never skipped without a word."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

from promptloop.traces.formats.base import ImportState, Parsed, RecordError, as_float, as_int, digest
from promptloop.traces.formats.messages import norm_messages, responses_output
from promptloop.traces.formats.provider_messages import (
    anthropic_blocks,
    anthropic_system,
    converse_blocks,
    gemini_answer,
    gemini_request,
    tool_definitions,
)
from promptloop.traces.store import Trace

NAME = "recorded_api"
PRECEDENCE = 28  # formats are tried in this order: narrow ones before broad ones (openai_log is 30)

Message = dict[str, Any]


def detect(r: dict[str, Any]) -> bool:
    return "uri" in r and "request" in r and "response" in r and "chat/completions" not in str(r.get("uri"))


# ---------------------------------------------------------------- Anthropic Messages
def anthropic(req: dict[str, Any], resp: dict[str, Any]) -> dict[str, Any]:
    messages = anthropic_system(req.get("system"))
    for m in req.get("messages") or []:
        messages += anthropic_blocks(str(m.get("role", "user")), m.get("content"))
    [answer] = anthropic_blocks("assistant", resp.get("content"))[-1:] or [{}]
    usage = resp.get("usage") or {}
    return {"messages": messages, "answer": answer, "model": resp.get("model") or req.get("model"),
            "id": resp.get("id"), "input_tokens": usage.get("input_tokens"),
            "output_tokens": usage.get("output_tokens"),
            "params": {k: req[k] for k in ("temperature", "top_p", "max_tokens") if req.get(k) is not None}}


# ---------------------------------------------------------------- Bedrock Converse
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
def gemini(req: dict[str, Any], resp: dict[str, Any], uri: str) -> dict[str, Any]:
    found = re.search(r"/models/([^/:]+):", urlsplit(uri).path)
    usage, config = resp.get("usageMetadata") or {}, req.get("generationConfig") or {}
    return {"messages": gemini_request(req), "answer": gemini_answer(resp), "id": resp.get("responseId"),
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


def request_tools(req: dict[str, Any]) -> list[dict[str, Any]]:
    """The tools a recorded request declares, in any of these APIs' shapes (Bedrock's under ``toolConfig``)."""
    config = req.get("toolConfig")
    return tool_definitions(req.get("tools") or (config.get("tools") if isinstance(config, dict) else None))


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
                         messages=call["messages"], output=output, tools=request_tools(req),
                         input_tokens=as_int(call.get("input_tokens")),
                         output_tokens=as_int(call.get("output_tokens")),
                         latency_ms=as_float(call.get("latency_ms")), metadata={"api": api, "uri": uri})])
