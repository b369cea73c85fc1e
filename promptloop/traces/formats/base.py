"""What every format parser returns, and the small value readers they share."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from promptloop.traces.reading import RecordError
from promptloop.traces.store import Feedback, Trace

__all__ = ["ImportState", "Parsed", "RecordError"]


@dataclass
class Parsed:
    traces: list[Trace] = field(default_factory=list)
    feedback: list[tuple[str, Feedback]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # reasons for parts of a record that hold no LLM call


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


# Sampling parameters, by every name producers give them: a trace's ``params`` holds these and only these.
SAMPLING = {"temperature": "temperature", "top_p": "top_p", "topP": "top_p", "top_k": "top_k", "topK": "top_k",
            "max_tokens": "max_tokens", "maxTokens": "max_tokens", "max_output_tokens": "max_tokens",
            "maxOutputTokens": "max_tokens", "max_completion_tokens": "max_completion_tokens", "seed": "seed",
            "stop": "stop", "stop_sequences": "stop", "stopSequences": "stop", "frequency_penalty": "frequency_penalty",
            "frequencyPenalty": "frequency_penalty", "presence_penalty": "presence_penalty",
            "presencePenalty": "presence_penalty", "n": "n", "response_format": "response_format",
            "reasoning_effort": "reasoning_effort"}


def params_of(body: dict[str, Any]) -> dict[str, Any]:
    """The sampling parameters of a request body or a recorded parameter map, under their OpenAI names."""
    return sampling(body)[0]


def sampling(params: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(sampling parameters under their OpenAI names, everything else that was given) of a parameter map."""
    params = maybe_json(params)
    if not isinstance(params, dict):
        return {}, {}
    kept: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for k, v in params.items():
        v = maybe_json(v) if isinstance(v, str) and k in SAMPLING else v
        if v is None or v == "null":
            continue
        if k in SAMPLING and SAMPLING[k] not in kept:
            kept[SAMPLING[k]] = v
        elif k not in SAMPLING:
            rest[k] = v
    return kept, rest


def score_feedback(s: dict[str, Any]) -> Feedback:
    dtype = str(s.get("dataType") or "").upper()
    value = s.get("longStringValue") or s.get("stringValue") if dtype == "CORRECTION" else s.get("value")
    if dtype == "CORRECTION":
        return Feedback("correction", value, name=str(s.get("name", "")), comment=s.get("comment") or "")
    if dtype == "BOOLEAN":
        return Feedback("thumbs", bool(value), name=str(s.get("name", "")), comment=s.get("comment") or "")
    return Feedback("score", value if value is not None else s.get("stringValue"), name=str(s.get("name", "")),
                    comment=s.get("comment") or "")


class ImportState:
    """State that spans records of one import (a Batch input waits here for its output)."""

    def __init__(self) -> None:
        self.batch_inputs: dict[str, dict[str, Any]] = {}
        self.batch_outputs: dict[str, dict[str, Any]] = {}
