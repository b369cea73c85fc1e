"""Trace formats in: each record of a JSONL/JSON(.gz) export becomes normalised traces.

Detected per record: promptloop's own format; OpenAI request/response logs, Batch input and
output (joined by custom_id), stored completions and eval output items; OpenTelemetry GenAI
spans in OTLP JSON (current, deprecated ``gen_ai.prompt.N.*`` and event forms, protobufjs-decoded
ids and integers); OpenInference spans (flattened and nested); Langfuse trace exports; LangSmith
runs and feedback; MLflow traces and assessments.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptloop.traces.store import Feedback, Trace, iso, parse_time

FORMATS = ("promptloop", "openai_log", "openai_batch", "openai_completion", "openai_eval", "otlp", "genai_attributes",
           "openinference", "langfuse", "langsmith", "mlflow", "mlflow_assessment")


class RecordError(ValueError):
    """A record that cannot be imported; the message says why."""


@dataclass
class Parsed:
    traces: list[Trace] = field(default_factory=list)
    feedback: list[tuple[str, Feedback]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # reasons for parts of a record that hold no LLM call


# ---------------------------------------------------------------- reading
def open_binary(path: Path) -> Any:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def decode(raw: bytes, where: str = "") -> str | RecordError:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return RecordError(f"not UTF-8 text{where} (byte {e.start}); re-export the file as UTF-8")


def read_lines(path: Path) -> Iterator[tuple[int, str | RecordError]]:
    """Non-blank lines with their numbers; a line that is not UTF-8 is reported, not fatal."""
    with open_binary(path) as fh:
        for n, raw in enumerate(fh, 1):
            if raw.strip():
                yield n, decode(raw)


def read_cassette(path: Path) -> Iterator[tuple[int, Any]]:
    """VCR cassettes (YAML) of recorded HTTP calls: each chat completion becomes an OpenAI log record."""
    import yaml

    with open_binary(path) as fh:
        text = decode(fh.read())
    if isinstance(text, RecordError):
        yield 1, text
        return
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        yield (mark.line + 1 if mark else 1), RecordError(f"invalid YAML: {getattr(e, 'problem', e)}")
        return
    for i, it in enumerate((doc or {}).get("interactions") or []):
        req, resp = it.get("request") or {}, it.get("response") or {}
        if "chat/completions" not in str(req.get("uri", "")):
            continue
        body = (resp.get("body") or {}).get("string")
        if isinstance(body, bytes):
            body = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
            body = body.decode("utf-8")
        try:
            yield i + 1, {"request": json.loads(req.get("body") or "{}"), "response": json.loads(body or "null"),
                          "uri": req.get("uri"), "status": (resp.get("status") or {}).get("code")}
        except (ValueError, UnicodeDecodeError) as e:
            yield i + 1, RecordError(f"interaction {i}: body is not JSON ({e})")


def read_records(path: Path) -> Iterator[tuple[int, Any]]:
    """(line, record) pairs; a malformed line yields (line, RecordError). JSONL streams line by line."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".yaml", ".yml")):
        yield from read_cassette(path)
        return
    lines = read_lines(path)
    first = next(lines, None)
    if first is None:
        return
    head = first[1].strip() if isinstance(first[1], str) else ""
    if name.endswith(".json") or (head in ("[", "{") and not name.endswith(".jsonl")):
        with open_binary(path) as fh:
            text = decode(fh.read())
        if isinstance(text, RecordError):
            yield 1, text
            return
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            yield e.lineno, RecordError(f"invalid JSON: {e.msg} (column {e.colno})")
            return
        items = doc if isinstance(doc, list) else (doc["data"] if isinstance(doc, dict) and doc.get(
            "object") == "list" and isinstance(doc.get("data"), list) else [doc])
        for item in items:
            yield 1, item
        return
    for n, line in itertools.chain([first], lines):
        yield n, parse_line(line)


def parse_line(line: str | RecordError) -> Any:
    """A JSONL line's record, or the RecordError saying why it is not one."""
    if isinstance(line, RecordError):
        return line
    try:
        return json.loads(line)
    except json.JSONDecodeError as e:
        return RecordError(f"invalid JSON: {e.msg} (column {e.colno})")


# ---------------------------------------------------------------- helpers
def maybe_json(value: Any) -> Any:
    """Decode JSON that was encoded into a string (possibly twice)."""
    for _ in range(2):
        if isinstance(value, str) and value[:1] in "{[\"" and value[-1:] in "}]\"":
            try:
                value = json.loads(value)
            except ValueError:
                break
        else:
            break
    return value


def digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def as_int(value: Any) -> int | None:
    """Integers as exported: plain, strings, or protobufjs Long {low, high, unsigned}."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, dict) and "low" in value and "high" in value:
        low, high = int(value["low"]) & 0xFFFFFFFF, int(value["high"])
        n = (high << 32) | low
        if not value.get("unsigned") and high < 0:
            n = ((high & 0xFFFFFFFF) << 32 | low) - (1 << 64)
        return n
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return None


def as_float(value: Any) -> float | None:
    try:
        return None if value is None or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None


def span_id(value: Any) -> str | None:
    """Trace/span ids as hex, whether hex, base64, or a protobufjs Buffer."""
    if value is None:
        return None
    if isinstance(value, dict) and value.get("type") == "Buffer":
        return bytes(value.get("data", [])).hex()
    if isinstance(value, list):
        return bytes(value).hex()
    text = str(value)
    if all(c in "0123456789abcdefABCDEF-" for c in text):
        return text.replace("-", "").lower()
    try:
        return base64.b64decode(text, validate=True).hex()
    except ValueError:
        return text


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
    return "".join(texts)


def tool_calls_of(m: dict[str, Any]) -> list[dict[str, Any]]:
    calls = []
    for c in m.get("tool_calls") or []:
        c = unwrap(c, "tool_call") if isinstance(c, dict) else {}
        fn: dict[str, Any] = c["function"] if isinstance(c.get("function"), dict) else {}
        name = fn.get("name") or c.get("function.name")
        args = fn.get("arguments") if "arguments" in fn else c.get("function.arguments")
        calls.append({"name": name or c.get("name"), "arguments": maybe_json(args if args is not None
                                                                             else c.get("arguments"))})
    for p in m.get("parts") or []:
        if isinstance(p, dict) and p.get("type") == "tool_call":
            calls.append({"name": p.get("name"), "arguments": maybe_json(p.get("arguments"))})
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


def norm_messages(value: Any) -> list[dict[str, Any]]:
    value = maybe_json(value)
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


def params_of(body: dict[str, Any]) -> dict[str, Any]:
    keep = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "seed", "stop", "response_format")
    return {k: body[k] for k in keep if body.get(k) is not None}


# ---------------------------------------------------------------- formats
def parse_promptloop(r: dict[str, Any], ctx: Importer) -> Parsed:
    fb = [Feedback(kind=f["kind"], value=f.get("value"), name=f.get("name", ""), comment=f.get("comment", ""))
          for f in r.get("feedback") or []]
    tokens = r.get("tokens") or {}
    t = Trace(id=f"promptloop:{r['id']}", source="promptloop", group=f"promptloop:{r['id']}", time=r.get("time"),
              prompt=r.get("prompt"), prompt_version=r.get("prompt_version"), model=r.get("model"),
              params=r.get("parameters") or {}, messages=norm_messages(r.get("messages") or []),
              inputs=r.get("inputs"), output=r.get("output"), latency_ms=as_float(r.get("latency_ms")),
              input_tokens=as_int(tokens.get("input")), output_tokens=as_int(tokens.get("output")),
              cost_usd=as_float(r.get("cost_usd")), feedback=fb, session_id=r.get("session_id"),
              user_id=r.get("user_id"), metadata=r.get("metadata") or {})
    correction = next((f.value for f in fb if f.kind == "correction"), None)
    t.expected = correction
    return Parsed([t])


def parse_openai_log(r: dict[str, Any], ctx: Importer) -> Parsed:
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
                         messages=norm_messages(req.get("messages")), output=output, input_tokens=itok,
                         output_tokens=otok, latency_ms=as_float(r.get("latency_ms") or r.get("duration_ms")),
                         user_id=req.get("user") or meta.get("user_id"), session_id=meta.get("session_id"),
                         metadata={k: v for k, v in meta.items() if k not in ("user_id", "session_id")})])


def parse_openai_completion(r: dict[str, Any], ctx: Importer) -> Parsed:
    output, model, itok, otok = from_chat_response(r)
    meta = r.get("metadata") or {}
    msgs = r.get("input_messages") or r.get("messages") or []
    return Parsed([Trace(id=f"openai:{r['id']}", source="openai_completion", group=f"openai:{r['id']}",
                         time=iso(parse_time(r.get("created"))), model=model, messages=norm_messages(msgs),
                         output=output, input_tokens=itok, output_tokens=otok, metadata=meta,
                         user_id=meta.get("user_id"), session_id=meta.get("session_id"))])


def parse_openai_batch(r: dict[str, Any], ctx: Importer) -> Parsed:
    cid = str(r["custom_id"])
    if "body" in r and "response" not in r:
        ctx.batch_inputs[cid] = r["body"]
    else:
        ctx.batch_outputs[cid] = r
    if cid in ctx.batch_inputs and cid in ctx.batch_outputs:
        body, out = ctx.batch_inputs.pop(cid), ctx.batch_outputs.pop(cid)
        return Parsed([batch_trace(cid, body, out)])
    return Parsed()


def batch_trace(cid: str, body: dict[str, Any] | None, out: dict[str, Any]) -> Trace:
    response = out.get("response") or {}
    if out.get("error") or (response.get("status_code") or 200) >= 400:
        raise RecordError(f"batch request {cid} failed: {str(out.get('error') or response.get('body'))[:100]}")
    rbody = response.get("body") or {}
    output, model, itok, otok = from_chat_response(rbody)
    tid = f"openai-batch:{out.get('id') or cid}"
    return Trace(id=tid, source="openai_batch", group=tid, time=iso(parse_time(rbody.get("created"))),
                 model=model or (body or {}).get("model"), params=params_of(body or {}),
                 messages=norm_messages((body or {}).get("messages")), output=output, input_tokens=itok,
                 output_tokens=otok, metadata={"custom_id": cid})


def parse_openai_eval(r: dict[str, Any], ctx: Importer) -> Parsed:
    sample = r.get("sample") or {}
    outs = sample.get("output") or []
    output = output_of_message(norm_message(outs[0])) if outs else None
    usage = sample.get("usage") or {}
    fb = [Feedback("eval", bool(x.get("passed")), name=str(x.get("name", "")), comment=f"score {x.get('score')}")
          for x in r.get("results") or []]
    item = r.get("datasource_item") or {}
    params = {k: sample[k] for k in ("temperature", "top_p", "seed", "max_completion_tokens") if sample.get(k)
              is not None}
    tid = f"openai-eval:{r['id']}"
    return Parsed([Trace(id=tid, source="openai_eval", group=tid, time=iso(parse_time(r.get("created_at"))),
                         model=sample.get("model"), params=params, messages=norm_messages(sample.get("input")),
                         output=output, expected=item.get("ground_truth"),
                         input_tokens=as_int(usage.get("prompt_tokens")),
                         output_tokens=as_int(usage.get("completion_tokens")), feedback=fb,
                         metadata={"eval_id": r.get("eval_id"), "run_id": r.get("run_id"),
                                   "datasource_item": item})])


# ---- OpenTelemetry
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


def genai_from_attributes(a: dict[str, Any], events: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """The LLM call in a span's attributes (GenAI semconv, any version, or OpenInference); None if none."""
    events = events or []
    messages: list[dict[str, Any]] = []
    output: Any = None
    if "llm.input_messages" in a or any(k.startswith("llm.input_messages.") for k in a):
        msgs = a.get("llm.input_messages") or unflatten(a, "llm.input_messages")
        messages = norm_messages(msgs)
        outs = a.get("llm.output_messages") or unflatten(a, "llm.output_messages")
        if outs:
            output = output_of_message(norm_message(outs[0]))
    elif any(k.startswith("llm.prompts.") for k in a):
        prompts = unflatten(a, "llm.prompts")
        messages = [{"role": "user", "content": p.get("prompt", {}).get("text", "") if isinstance(p, dict) else p}
                    for p in prompts]
        choices = unflatten(a, "llm.choices")
        if choices and isinstance(choices[0], dict):
            output = choices[0].get("completion", {}).get("text")
    if "gen_ai.input.messages" in a:
        messages = norm_messages(a["gen_ai.input.messages"])
        system = maybe_json(a.get("gen_ai.system_instructions"))
        if system:
            messages.insert(0, {"role": "system", "content": content_text(system)})
    elif any(k.startswith("gen_ai.prompt.") for k in a):
        messages = norm_messages(unflatten(a, "gen_ai.prompt"))
    if "gen_ai.output.messages" in a:
        outs = norm_messages(a["gen_ai.output.messages"])
        output = output_of_message(outs[0]) if outs else None
    elif any(k.startswith("gen_ai.completion.") for k in a):
        outs = norm_messages(unflatten(a, "gen_ai.completion"))
        output = output_of_message(outs[0]) if outs else None
    for ev in events:
        name, ea = ev.get("name", ""), otlp_attrs(ev.get("attributes"))
        if name in ("gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message", "gen_ai.tool.message"):
            role = name.split(".")[1]
            messages.append({"role": role, "content": content_text(maybe_json(ea.get("content")))})
        elif name == "gen_ai.choice":
            msg = maybe_json(ea.get("message"))
            output = output_of_message(norm_message(msg if isinstance(msg, dict) else {"content": msg}))
        elif name == "gen_ai.content.prompt" and ea.get("gen_ai.prompt"):
            text = str(ea["gen_ai.prompt"])
            role, sep, rest = text.partition(": ")
            messages.append({"role": role if sep and role in ("user", "system", "assistant") else "user",
                             "content": rest if sep and role in ("user", "system", "assistant") else text})
        elif name == "gen_ai.content.completion" and ea.get("gen_ai.completion") is not None:
            output = ea["gen_ai.completion"]
        elif name == "gen_ai.client.inference.operation.details":
            if "gen_ai.input.messages" in ea:
                messages = norm_messages(ea["gen_ai.input.messages"])
            if "gen_ai.output.messages" in ea:
                outs = norm_messages(ea["gen_ai.output.messages"])
                output = output_of_message(outs[0]) if outs else None
    if output is None and a.get("output.value") is not None and a.get("openinference.span.kind") == "LLM":
        ov = maybe_json(a["output.value"])
        output = ov.get("text", ov) if isinstance(ov, dict) and "choices" not in ov else from_chat_response(ov)[0]
    model = a.get("gen_ai.response.model") or a.get("gen_ai.request.model") or a.get("llm.model_name")
    is_llm = bool(messages) or output is not None or a.get("openinference.span.kind") == "LLM" or bool(
        a.get("gen_ai.operation.name") in ("chat", "text_completion", "generate_content"))
    if not is_llm:
        return None
    params = {k.removeprefix("gen_ai.request."): v for k, v in a.items()
              if k in ("gen_ai.request.temperature", "gen_ai.request.top_p", "gen_ai.request.max_tokens",
                       "gen_ai.request.seed") and v not in (None, "", -1)}
    inv = maybe_json(a.get("llm.invocation_parameters"))
    if isinstance(inv, dict):
        params.update(params_of(inv))
    itok = as_int(a.get("gen_ai.usage.input_tokens", a.get("gen_ai.usage.prompt_tokens",
                                                            a.get("llm.token_count.prompt"))))
    otok = as_int(a.get("gen_ai.usage.output_tokens", a.get("gen_ai.usage.completion_tokens",
                                                             a.get("llm.token_count.completion"))))
    return {"messages": messages, "output": output, "model": model, "params": params, "input_tokens": itok,
            "output_tokens": otok, "cost_usd": as_float(a.get("gen_ai.usage.cost") or a.get("llm.cost.total")),
            "user_id": a.get("user.id") or a.get("enduser.id") or a.get("gen_ai.request.user") or None,
            "session_id": a.get("session.id") or a.get("gen_ai.conversation.id")}


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


def parse_otlp(r: dict[str, Any], ctx: Importer) -> Parsed:
    rs_list = r.get("resourceSpans") or ([r["resourceSpan"]] if "resourceSpan" in r else [r])
    out = Parsed()
    for rs in rs_list:
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            for span in ss.get("spans") or []:
                a = otlp_attrs(span.get("attributes"))
                t = span_trace("otel", a, span.get("events") or [], trace_id=span_id(span.get("traceId")),
                               sid=span_id(span.get("spanId")), start=as_int(span.get("startTimeUnixNano")),
                               end=as_int(span.get("endTimeUnixNano")), fallback_id=span)
                if t is None:
                    out.skipped.append(f"span '{span.get('name')}' is not an LLM call")
                else:
                    out.traces.append(t)
    return out


def parse_genai_attributes(r: dict[str, Any], ctx: Importer) -> Parsed:
    """A bare attribute map (a span's attributes exported on their own)."""
    source = "openinference" if "openinference.span.kind" in r else "otel"
    t = span_trace(source, r, [], trace_id=None, sid=None, start=None, end=None, fallback_id=r)
    return Parsed([t] if t else [], skipped=[] if t else ["attributes describe no LLM call"])


def parse_openinference(r: dict[str, Any], ctx: Importer) -> Parsed:
    if "attributes" not in r:  # a flattened attribute map on its own
        return parse_genai_attributes(r, ctx)
    a = otlp_attrs(r["attributes"])
    if a.get("openinference.span.kind") not in (None, "LLM"):
        return Parsed(skipped=[f"{a.get('openinference.span.kind')} span '{r.get('name')}' is not an LLM call"])
    c = r.get("context") or {}
    t = span_trace("openinference", a, r.get("events") or [], trace_id=span_id(c.get("trace_id")),
                   sid=span_id(c.get("span_id")), start=r.get("start_time"), end=r.get("end_time"), fallback_id=r)
    return Parsed([t] if t else [], skipped=[] if t else ["span holds no LLM call"])


# ---- Langfuse
LOWER_IS_BETTER = ("halluc", "toxic", "bias", "harm", "error", "latency", "cost")


def score_feedback(s: dict[str, Any]) -> Feedback:
    dtype = str(s.get("dataType") or "").upper()
    value = s.get("longStringValue") or s.get("stringValue") if dtype == "CORRECTION" else s.get("value")
    if dtype == "CORRECTION":
        return Feedback("correction", value, name=str(s.get("name", "")), comment=s.get("comment") or "")
    if dtype == "BOOLEAN":
        return Feedback("thumbs", bool(value), name=str(s.get("name", "")), comment=s.get("comment") or "")
    return Feedback("score", value if value is not None else s.get("stringValue"), name=str(s.get("name", "")),
                    comment=s.get("comment") or "")


def langfuse_io(value: Any) -> tuple[list[dict[str, Any]], Any]:
    """Messages from a generation's input, whatever SDK wrote it (OpenAI, GenAI parts, Gemini)."""
    v = maybe_json(value)
    if isinstance(v, dict) and "contents" in v:
        contents = v["contents"]
        if isinstance(contents, str):
            return [{"role": "user", "content": contents}], v.get("model")
        return norm_messages(contents), v.get("model")
    return norm_messages(v) if v is not None else [], None


def langfuse_output(value: Any) -> Any:
    v = maybe_json(value)
    if isinstance(v, dict):
        if "candidates" in v:  # Gemini
            cand = (v["candidates"] or [{}])[0]
            return content_text((cand.get("content") or {}).get("parts"))
        if "message" in v:
            return output_of_message(norm_message(v["message"]))
        if "choices" in v:
            return from_chat_response(v)[0]
        if "role" in v and ("content" in v or "parts" in v):
            return output_of_message(norm_message(v))
    if isinstance(v, list) and v and isinstance(v[-1], dict) and "role" in v[-1]:
        return output_of_message(norm_message(v[-1]))
    return v


def parse_langfuse(r: dict[str, Any], ctx: Importer) -> Parsed:
    trace: dict[str, Any] = r["trace"] if isinstance(r.get("trace"), dict) else r
    observations = r.get("observations") or trace.get("observations") or []
    group = f"langfuse:{trace['id']}"
    out = Parsed()
    for s in [*(trace.get("scores") or []), *(trace.get("corrections") or [])]:
        out.feedback.append((group, score_feedback(s)))
    gens = [o for o in observations if o.get("type") == "GENERATION"]
    if not gens:
        out.skipped.append(f"langfuse trace {trace['id']} has no GENERATION observation")
    for o in gens:
        messages, model_in = langfuse_io(o.get("input"))
        usage = o.get("usageDetails") or o.get("usage") or {}
        latency = as_float(o.get("latency"))
        if latency is None:
            t0, t1 = parse_time(o.get("startTime")), parse_time(o.get("endTime"))
            latency = (t1 - t0) if t0 is not None and t1 is not None else None
        meta = maybe_json(trace.get("metadata"))
        params = maybe_json(o.get("modelParameters")) or {}
        out.traces.append(Trace(
            id=f"langfuse:{trace['id']}:{o['id']}", source="langfuse", group=group,
            time=o.get("startTime") or trace.get("timestamp"), prompt=o.get("promptName"),
            prompt_version=str(o["promptVersion"]) if o.get("promptVersion") is not None else None,
            model=o.get("model") or model_in, params=params if isinstance(params, dict) else {},
            messages=messages, output=langfuse_output(o.get("output")),
            latency_ms=latency * 1000 if latency is not None else None,
            input_tokens=as_int(usage.get("input", usage.get("promptTokens"))),
            output_tokens=as_int(usage.get("output", usage.get("completionTokens"))),
            cost_usd=as_float(o.get("totalCost") or o.get("calculatedTotalCost")),
            session_id=trace.get("sessionId"), user_id=trace.get("userId"),
            metadata={"trace_name": trace.get("name"), "tags": trace.get("tags") or [],
                      **({"metadata": meta} if isinstance(meta, dict) else {})}))
    return out


# ---- LangSmith
def parse_langsmith(r: dict[str, Any], ctx: Importer) -> Parsed:
    if "post" in r or "patch" in r:
        runs: dict[str, dict[str, Any]] = {}
        for run in [*(r.get("post") or []), *(r.get("patch") or [])]:
            key = str(run.get("id") or run.get("dotted_order") or run.get("trace_id"))
            # a patch may lack the id: join on dotted_order, which every run has
            match = next((k for k, v in runs.items() if v.get("dotted_order") == run.get("dotted_order")), key)
            runs.setdefault(match, {}).update({k: v for k, v in run.items() if v is not None})
        out = Parsed()
        for run in runs.values():
            p = langsmith_run(run)
            out.traces += p.traces
            out.skipped += p.skipped
        return out
    if "run_id" in r and "key" in r:  # a feedback record
        f = langsmith_feedback(r)
        return Parsed(feedback=[(f"langsmith:{r['run_id']}", f)])
    return langsmith_run(r)


def langsmith_feedback(f: dict[str, Any]) -> Feedback:
    if f.get("correction") is not None:
        corr = f["correction"]
        return Feedback("correction", corr.get("output", corr) if isinstance(corr, dict) else corr,
                        name=str(f.get("key")), comment=f.get("comment") or "")
    score = f.get("score")
    if isinstance(score, bool) or str(f.get("key", "")).lower() in ("thumbs", "user_score", "thumbs_up"):
        return Feedback("thumbs", bool(score), name=str(f.get("key")), comment=f.get("comment") or "")
    return Feedback("score", score if score is not None else f.get("value"), name=str(f.get("key")),
                    comment=f.get("comment") or "")


def langsmith_run(run: dict[str, Any]) -> Parsed:
    if run.get("run_type") not in ("llm", None):
        return Parsed(skipped=[f"{run.get('run_type')} run '{run.get('name')}' is not an LLM call"])
    inputs, outputs = run.get("inputs") or {}, run.get("outputs") or {}
    meta = (run.get("extra") or {}).get("metadata") or {}
    output, model, itok, otok = from_chat_response(outputs)
    if output is None and outputs.get("generations"):
        gen = outputs["generations"][0]
        gen = gen[0] if isinstance(gen, list) else gen
        output = gen.get("text") or output_of_message(norm_message((gen.get("message") or {}).get("kwargs", {})))
    messages = norm_messages(inputs.get("messages") or inputs.get("prompt") or [])
    t0, t1 = parse_time(run.get("start_time")), parse_time(run.get("end_time"))
    rid = run.get("id") or run.get("trace_id")
    fb = [langsmith_feedback(f) for f in run.get("feedback") or []]
    return Parsed([Trace(id=f"langsmith:{rid}", source="langsmith", group=f"langsmith:{rid}", time=iso(t0),
                         model=model or inputs.get("model") or meta.get("ls_model_name"),
                         params=params_of(inputs), messages=messages, output=output,
                         latency_ms=(t1 - t0) * 1000 if t0 is not None and t1 is not None else None,
                         input_tokens=itok, output_tokens=otok, feedback=fb,
                         session_id=meta.get("session_id") or meta.get("thread_id"), user_id=meta.get("user_id"),
                         metadata={"name": run.get("name"), "provider": meta.get("ls_provider")})])


# ---- MLflow
def parse_mlflow(r: dict[str, Any], ctx: Importer) -> Parsed:
    info, spans = r["info"], (r.get("data") or {}).get("spans") or []
    tid = info.get("trace_id") or info.get("request_id")
    group = f"mlflow:{tid}"
    out = Parsed()
    for a in info.get("assessments") or []:
        out.feedback.append((group, mlflow_feedback(a)))
    meta = info.get("trace_metadata") or info.get("request_metadata") or {}
    llm = [s for s in spans if maybe_json((s.get("attributes") or {}).get("mlflow.spanType")) in
           ("LLM", "CHAT_MODEL")]
    if not llm:
        out.skipped.append(f"mlflow trace {tid} has no LLM or CHAT_MODEL span")
    for s in llm:
        a = {k: maybe_json(v) for k, v in (s.get("attributes") or {}).items()}
        inputs, outputs = a.get("mlflow.spanInputs"), a.get("mlflow.spanOutputs")
        messages = norm_messages(inputs) if isinstance(inputs, (dict, list)) and (
            isinstance(inputs, list) or "messages" in inputs) else []
        output, model, itok, otok = from_chat_response(outputs) if isinstance(outputs, dict) else (outputs, None,
                                                                                                     None, None)
        usage = a.get("mlflow.chat.tokenUsage") or {}
        t0, t1 = as_int(s.get("start_time_unix_nano")), as_int(s.get("end_time_unix_nano"))
        out.traces.append(Trace(
            id=f"mlflow:{tid}:{span_id(s.get('span_id'))}", source="mlflow", group=group,
            time=info.get("request_time"), model=model or a.get("mlflow.llm.model") or a.get("model"),
            messages=messages, inputs=inputs if isinstance(inputs, dict) and not messages else None,
            output=output, latency_ms=(t1 - t0) / 1e6 if t0 is not None and t1 is not None else None,
            input_tokens=itok if itok is not None else as_int(usage.get("input_tokens")),
            output_tokens=otok if otok is not None else as_int(usage.get("output_tokens")),
            session_id=meta.get("mlflow.trace.session"), user_id=meta.get("mlflow.trace.user"),
            metadata={"span_name": s.get("name"), "trace_name": (info.get("tags") or {}).get("mlflow.traceName")}))
    return out


def mlflow_feedback(a: dict[str, Any]) -> Feedback:
    name = str(a.get("assessment_name") or a.get("name") or "")
    if a.get("expectation") is not None:
        return Feedback("correction", (a["expectation"] or {}).get("value"), name=name)
    value = (a.get("feedback") or {}).get("value")
    comment = str(a.get("rationale") or "")
    if isinstance(value, bool):
        return Feedback("thumbs", value, name=name, comment=comment)
    if isinstance(value, str) and value.lower() in ("yes", "no", "pass", "fail"):
        return Feedback("thumbs", value.lower() in ("yes", "pass"), name=name, comment=comment)
    return Feedback("score", value, name=name, comment=comment)


def parse_mlflow_assessment(r: dict[str, Any], ctx: Importer) -> Parsed:
    return Parsed(feedback=[(f"mlflow:{r['trace_id']}", mlflow_feedback(r))])


# ---------------------------------------------------------------- detection
def detect(r: Any) -> str | None:
    if not isinstance(r, dict):
        return None
    if "promptloop_trace" in r:
        return "promptloop"
    if "custom_id" in r and ("body" in r or "response" in r):
        return "openai_batch"
    if "request" in r and "response" in r and isinstance(r["request"], dict):
        return "openai_log"
    if r.get("object") == "eval.run.output_item":
        return "openai_eval"
    if r.get("object") == "chat.completion" and "choices" in r:
        return "openai_completion"
    if "resourceSpans" in r or "resourceSpan" in r or "scopeSpans" in r:
        return "otlp"
    if "attributes" in r and ("context" in r or "span_kind" in r):
        return "openinference"
    if "openinference.span.kind" in r or any(k.startswith("llm.input_messages") for k in r):
        return "openinference"
    if any(k.startswith("gen_ai.") for k in r):
        return "genai_attributes"
    if ("trace" in r and "observations" in r) or ("observations" in r and "id" in r):
        return "langfuse"
    if "post" in r or "patch" in r or "run_type" in r or ("run_id" in r and "key" in r):
        return "langsmith"
    if "info" in r and "data" in r and isinstance(r["info"], dict) and "spans" in (r["data"] or {}):
        return "mlflow"
    if "assessment_name" in r and "trace_id" in r:
        return "mlflow_assessment"
    return None


PARSERS: dict[str, Callable[[dict[str, Any], Importer], Parsed]] = {
    "promptloop": parse_promptloop, "openai_log": parse_openai_log, "openai_batch": parse_openai_batch,
    "openai_completion": parse_openai_completion, "openai_eval": parse_openai_eval, "otlp": parse_otlp,
    "genai_attributes": parse_genai_attributes, "openinference": parse_openinference, "langfuse": parse_langfuse,
    "langsmith": parse_langsmith, "mlflow": parse_mlflow, "mlflow_assessment": parse_mlflow_assessment,
}


class Importer:
    """Turns records into traces; keeps the state that spans records (Batch joins)."""

    def __init__(self, fmt: str = "auto") -> None:
        self.fmt = fmt
        self.batch_inputs: dict[str, dict[str, Any]] = {}
        self.batch_outputs: dict[str, dict[str, Any]] = {}

    def parse(self, record: Any) -> Parsed:
        name = detect(record) if self.fmt == "auto" else self.fmt
        if name is None:
            keys = ", ".join(list(record)[:6]) if isinstance(record, dict) else type(record).__name__
            raise RecordError(f"unrecognised record (keys: {keys}); pass --format NAME, one of: {', '.join(FORMATS)}")
        try:
            return PARSERS[name](record, self)
        except RecordError:
            raise
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as e:
            raise RecordError(f"not a valid {name} record: {e.__class__.__name__} {e}") from None

    def finish(self) -> tuple[Parsed, list[str]]:
        """Batch outputs whose input never came; inputs without output are reported."""
        out, problems = Parsed(), []
        for cid, o in self.batch_outputs.items():
            try:
                out.traces.append(batch_trace(cid, None, o))
            except RecordError as e:
                problems.append(str(e))
        problems += [f"batch input {cid} has no output (import the output file too)" for cid in self.batch_inputs]
        self.batch_inputs.clear()
        self.batch_outputs.clear()
        return out, problems
