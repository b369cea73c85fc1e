"""LiteLLM's ``StandardLoggingPayload``: what every LiteLLM logging callback writes (S3, GCS, Pub/Sub, custom
loggers, the proxy's spend logs), one call per record: messages, response, model, tokens, cost, times, end user."""

from __future__ import annotations

from typing import Any

from promptloop.traces.formats.base import ImportState, Parsed, RecordError, as_float, as_int, params_of
from promptloop.traces.formats.messages import from_chat_response, norm_messages
from promptloop.traces.formats.provider_messages import tool_definitions
from promptloop.traces.store import Trace, iso, parse_time

NAME = "litellm_payload"
PRECEDENCE = 25  # formats are tried in this order: narrow ones before broad ones

CHAT_CALLS = {"completion", "acompletion", "text_completion", "atext_completion", "responses", "aresponses",
              "anthropic_messages", "generate_content", "agenerate_content"}


def detect(r: dict[str, Any]) -> bool:
    return "call_type" in r and "messages" in r and ("hidden_params" in r or "standard_built_in_tools_params" in r
                                                     or "model_map_information" in r)


def parse(r: dict[str, Any], ctx: ImportState) -> Parsed:
    if r.get("call_type") not in CHAT_CALLS:
        return Parsed(skipped=[f"a LiteLLM {r.get('call_type')} call is not an LLM call"])
    if r.get("status") == "failure":
        raise RecordError(f"the logged call failed: {str(r.get('error_str') or '')[:100]}")
    output, model, itok, otok = from_chat_response(r.get("response"))
    start, end = parse_time(r.get("startTime")), parse_time(r.get("endTime"))
    first = parse_time(r.get("completionStartTime"))
    tid = f"litellm:{r['id']}"
    meta: dict[str, Any] = r["metadata"] if isinstance(r.get("metadata"), dict) else {}
    asked: dict[str, Any] = meta["requester_metadata"] if isinstance(meta.get("requester_metadata"), dict) else {}
    extra = {"stream": r.get("stream"), "cache_hit": r.get("cache_hit"), "provider": r.get("custom_llm_provider"),
             "request_tags": r.get("request_tags") or None, "api_base": (r.get("hidden_params") or {}).get("api_base"),
             "time_to_first_token_ms": (first - start) * 1000 if r.get("stream") and first and start else None}
    return Parsed([Trace(
        id=tid, source=NAME, group=f"litellm:{r['trace_id']}" if r.get("trace_id") else tid, time=iso(start),
        model=r.get("model") or model, params=params_of(r.get("model_parameters") or {}),
        messages=norm_messages(r.get("messages")), output=output,
        tools=tool_definitions((r.get("model_parameters") or {}).get("tools")),
        latency_ms=(end - start) * 1000 if start is not None and end is not None else None,
        input_tokens=as_int(r.get("prompt_tokens")) if r.get("prompt_tokens") is not None else itok,
        output_tokens=as_int(r.get("completion_tokens")) if r.get("completion_tokens") is not None else otok,
        cost_usd=as_float(r.get("response_cost")),
        user_id=r.get("end_user") or meta.get("user_api_key_end_user_id") or None,
        session_id=asked.get("session_id"),
        metadata={k: v for k, v in extra.items() if v is not None})])
