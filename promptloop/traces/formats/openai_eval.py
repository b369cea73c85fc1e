"""OpenAI Evals run output items: results become feedback, ``ground_truth`` the expected value."""

from __future__ import annotations

from typing import Any

from promptloop.traces.formats.base import ImportState, Parsed, as_int
from promptloop.traces.formats.messages import norm_message, norm_messages, output_of_message
from promptloop.traces.store import Feedback, Trace, iso, parse_time

NAME = "openai_eval"
PRECEDENCE = 40  # formats are tried in this order: narrow ones before broad ones


def detect(r: dict[str, Any]) -> bool:
    return r.get("object") == "eval.run.output_item"


def parse(r: dict[str, Any], ctx: ImportState) -> Parsed:
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
