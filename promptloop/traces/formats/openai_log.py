"""OpenAI chat-completion request/response pairs ``{request, response}``."""

from __future__ import annotations

from typing import Any

from promptloop.traces.formats.base import ImportState, Parsed, RecordError, as_float, digest, params_of
from promptloop.traces.formats.messages import from_chat_response, norm_messages
from promptloop.traces.formats.provider_messages import tool_definitions
from promptloop.traces.store import Trace, iso, parse_time

NAME = "openai_log"
PRECEDENCE = 30  # formats are tried in this order: narrow ones before broad ones


def detect(r: dict[str, Any]) -> bool:
    return "request" in r and "response" in r and isinstance(r["request"], dict)


def parse(r: dict[str, Any], ctx: ImportState) -> Parsed:
    req, resp = r["request"], r.get("response")
    if isinstance(resp, dict) and resp.get("error"):
        raise RecordError(f"the logged call failed: {str(resp['error'])[:100]}")
    output, model, itok, otok = from_chat_response(resp)
    rid = (resp or {}).get("id") if isinstance(resp, dict) else None
    tid = f"openai:{rid}" if rid else f"openai:{digest(req, resp)}"
    created = (resp or {}).get("created") if isinstance(resp, dict) else None
    meta = req.get("metadata") or {}
    return Parsed([Trace(id=tid, source="openai_log", group=tid, time=iso(parse_time(created)),
                         model=model or req.get("model"), params=params_of(req),
                         tools=tool_definitions(req.get("tools")),
                         messages=norm_messages(req.get("messages")), output=output, input_tokens=itok,
                         output_tokens=otok, latency_ms=as_float(r.get("latency_ms") or r.get("duration_ms")),
                         user_id=req.get("user") or meta.get("user_id"), session_id=meta.get("session_id"),
                         metadata={**{k: v for k, v in meta.items() if k not in ("user_id", "session_id")},
                                   **({"stream": True} if req.get("stream") else {})})])
