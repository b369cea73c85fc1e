"""Stored OpenAI chat completions (``object: chat.completion``)."""

from __future__ import annotations

from typing import Any

from promptloop.traces.formats.base import ImportState, Parsed
from promptloop.traces.formats.messages import from_chat_response, norm_messages
from promptloop.traces.store import Trace, iso, parse_time

NAME = "openai_completion"
PRECEDENCE = 50  # formats are tried in this order: narrow ones before broad ones


def detect(r: dict[str, Any]) -> bool:
    return r.get("object") == "chat.completion" and "choices" in r


def parse(r: dict[str, Any], ctx: ImportState) -> Parsed:
    output, model, itok, otok = from_chat_response(r)
    meta = r.get("metadata") or {}
    msgs = r.get("input_messages") or r.get("messages") or []
    return Parsed([Trace(id=f"openai:{r['id']}", source="openai_completion", group=f"openai:{r['id']}",
                         time=iso(parse_time(r.get("created"))), model=model, messages=norm_messages(msgs),
                         output=output, input_tokens=itok, output_tokens=otok, metadata=meta,
                         user_id=meta.get("user_id"), session_id=meta.get("session_id"))])
