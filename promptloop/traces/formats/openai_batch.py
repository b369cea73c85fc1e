"""OpenAI Batch input and output files, joined by ``custom_id``."""

from __future__ import annotations

from typing import Any

from promptloop.traces.formats.base import ImportState, Parsed, RecordError, params_of
from promptloop.traces.formats.messages import from_chat_response, norm_messages
from promptloop.traces.formats.provider_messages import tool_definitions
from promptloop.traces.store import Trace, iso, parse_time

NAME = "openai_batch"
PRECEDENCE = 20  # formats are tried in this order: narrow ones before broad ones


def detect(r: dict[str, Any]) -> bool:
    return "custom_id" in r and ("body" in r or "response" in r)


def batch_trace(cid: str, body: dict[str, Any] | None, out: dict[str, Any]) -> Trace:
    response = out.get("response") or {}
    if out.get("error") or (response.get("status_code") or 200) >= 400:
        raise RecordError(f"batch request {cid} failed: {str(out.get('error') or response.get('body'))[:100]}")
    rbody = response.get("body") or {}
    output, model, itok, otok = from_chat_response(rbody)
    tid = f"openai-batch:{out.get('id') or cid}"
    return Trace(id=tid, source="openai_batch", group=tid, time=iso(parse_time(rbody.get("created"))),
                 model=model or (body or {}).get("model"), params=params_of(body or {}),
                 tools=tool_definitions((body or {}).get("tools")),
                 messages=norm_messages((body or {}).get("messages")), output=output, input_tokens=itok,
                 output_tokens=otok, metadata={"custom_id": cid})


def parse(r: dict[str, Any], ctx: ImportState) -> Parsed:
    cid = str(r["custom_id"])
    if "body" in r and "response" not in r:
        ctx.batch_inputs[cid] = r["body"]
    else:
        ctx.batch_outputs[cid] = r
    if cid in ctx.batch_inputs and cid in ctx.batch_outputs:
        body, out = ctx.batch_inputs.pop(cid), ctx.batch_outputs.pop(cid)
        return Parsed([batch_trace(cid, body, out)])
    return Parsed()
