"""LangSmith run payloads (``post``/``patch`` merged), runs and feedback records."""

from __future__ import annotations

from typing import Any

from promptloop.traces.formats.base import ImportState, Parsed, params_of
from promptloop.traces.formats.messages import from_chat_response, norm_message, norm_messages, output_of_message
from promptloop.traces.store import Feedback, Trace, iso, parse_time

NAME = "langsmith"
PRECEDENCE = 100  # formats are tried in this order: narrow ones before broad ones


def detect(r: dict[str, Any]) -> bool:
    return "post" in r or "patch" in r or "run_type" in r or ("run_id" in r and "key" in r)


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


def parse(r: dict[str, Any], ctx: ImportState) -> Parsed:
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
