"""Traces into golden cases: ``promptloop golden add PROMPT --from-traces``.

Appending keeps the golden file's comments and order: new cases are added as text at the
end of its ``cases:`` list, so the diff shows only the added cases.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from promptloop.errors import ConfigError
from promptloop.masking import mask_personal, redact
from promptloop.repo.config import Config
from promptloop.repo.prompts import Case, GoldenSet, Prompt, golden_path, load_golden, load_prompt
from promptloop.traces.store import Trace, TraceStore, store_path


@dataclass
class Promotion:
    added: list[str] = field(default_factory=list)
    review: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    path: str = ""
    masked: dict[str, int] = field(default_factory=dict)  # personal data masked, by kind


def case_from_trace(t: Trace, inputs: list[str]) -> dict[str, Any]:
    case: dict[str, Any] = {"id": promoted_id(t),
                            "inputs": redact({k: (t.inputs or {})[k] for k in inputs})}
    if t.expected is not None:
        case["expected"] = redact(t.expected)
    case["tags"] = ["from-trace"] + (["failed"] if t.verdict == "fail" else [])
    if t.expected is None:
        case["review"] = True
    case["notes"] = redact(f"{t.source} trace {t.id}; verdict {t.verdict}: {t.reason}"[:300])
    return case


def promoted_id(t: Trace) -> str:
    """The id of the golden case made from trace ``t``."""
    return "trace-" + hashlib.sha256(t.id.encode()).hexdigest()[:10]


def _key(inputs: dict[str, Any]) -> str:
    return json.dumps(inputs, sort_keys=True, ensure_ascii=False)


def append_cases(text: str, cases: list[dict[str, Any]]) -> str:
    """``text`` (a golden file) with ``cases`` appended to its ``cases:`` list, everything else kept."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if re.match(r"^cases\s*:", ln)), None)
    if start is None:
        body = (text if text.endswith("\n") or not text else text + "\n") + "cases:\n"
        return body + _dump(cases, "  ")
    if re.match(r"^cases\s*:\s*\[\s*\]\s*(#.*)?$", lines[start].rstrip("\n")):
        lines[start] = "cases:\n"
    end = len(lines)
    for i in range(start + 1, len(lines)):
        if re.match(r"^[A-Za-z_\"']", lines[i]):
            end = i
            break
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    item = next((m.group(1) for ln in lines[start + 1:end] if (m := re.match(r"^(\s*)- ", ln))), "  ")
    block = _dump(cases, item)
    if end > 0 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    return "".join(lines[:end]) + block + "".join(lines[end:])


def _dump(cases: list[dict[str, Any]], indent: str) -> str:
    text = yaml.safe_dump(cases, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
    return "".join(indent + ln if ln.strip() else ln for ln in text.splitlines(keepends=True))


def promote(config: Config, prompt_name: str, *, failed: bool = False, limit: int | None = None,
            keep_personal_data: bool = False, include_inherited: bool = False) -> Promotion:
    """Append traces of ``prompt_name`` to its golden set. E-mail addresses and phone numbers are masked
    unless ``keep_personal_data`` (golden files go into git); ``Promotion.masked`` counts what was."""
    prompt = load_prompt(config, prompt_name)
    gpath = golden_path(config, prompt)
    golden = load_golden(gpath, prompt)
    out = Promotion(path=str(gpath))
    with TraceStore(store_path(config.cache_dir)) as store:
        traces = store.query(prompt=prompt.name, verdict="fail" if failed else None)
    if not traces:
        raise ConfigError(f"no {'failed ' if failed else ''}traces of prompt '{prompt.name}' in the store; "
                          "import some with `promptloop import FILE`")
    seen = {_key(c.inputs) for c in golden.cases}
    ids = {c.id for c in golden.cases}
    new: list[dict[str, Any]] = []
    for t in traces:
        if limit is not None and len(new) >= limit:
            break
        if t.verdict_inherited and not include_inherited:
            out.skipped.append(f"{t.id}: its verdict is inherited from feedback on the whole trace "
                               "(--include-inherited takes it)")
            continue
        if not t.inputs or any(k not in t.inputs for k in prompt.inputs):
            out.skipped.append(f"{t.id}: input variables not recovered from its messages")
            continue
        case = redact(case_from_trace(t, prompt.inputs))  # secrets were masked at import; again, to be sure
        if not keep_personal_data:
            case = mask_personal(case, out.masked)
        if _key(case["inputs"]) in seen or case["id"] in ids:
            out.skipped.append(f"{t.id}: already a golden case")
            continue
        seen.add(_key(case["inputs"]))
        ids.add(case["id"])
        new.append(case)
        (out.review if case.get("review") else out.added).append(case["id"])
    if new:
        text = gpath.read_text(encoding="utf-8")
        updated = append_cases(text, new)
        load_golden(gpath, prompt, text=updated)  # validate before writing: never a broken file
        gpath.write_text(updated, encoding="utf-8")
    return out


def trace_failures(config: Config, prompt: Prompt, golden: GoldenSet | None = None, limit: int = 200) -> list[Case]:
    """Failed production traces of ``prompt`` that can be replayed and judged: input variables
    recovered and a corrected (expected) output known, and not already a case of ``golden`` (promoted by
    ``golden add --from-traces``, or the same inputs): a case is counted once. Secrets were masked at import."""
    path = store_path(config.cache_dir)
    if not path.exists():
        return []
    with TraceStore(path) as store:
        failed = store.query(prompt=prompt.name, verdict="fail")
    ids = {c.id for c in golden.cases} if golden else set()
    seen = {_key(c.inputs) for c in golden.cases} if golden else set()
    out: list[Case] = []
    for t in failed:
        if t.expected is None or not t.inputs or any(k not in t.inputs for k in prompt.inputs):
            continue
        inputs = {k: t.inputs[k] for k in prompt.inputs}
        if promoted_id(t) in ids or _key(inputs) in seen or _key(mask_personal(inputs)) in seen:
            continue
        out.append(Case(id=f"trace:{t.id}", inputs={k: t.inputs[k] for k in prompt.inputs}, expected=t.expected,
                        tags=["trace"]))
        if len(out) >= limit:
            break
    return out
