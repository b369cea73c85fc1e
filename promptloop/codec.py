"""JSON on the hot paths (trace import, reports): orjson, with the standard library for what orjson refuses.

Parsing and encoding were half of import time with ``json`` (measured: 7 µs to read and 8 µs to write a
1 kB trace; orjson takes 2.7 and under 1). orjson is stricter, so every refusal falls back to ``json``
and the import accepts exactly what it accepted before: NaN and Infinity, integers beyond 64 bits,
non-string keys, lone surrogates. A lone surrogate (an escape like ``\\ud800`` without its pair) is read as
U+FFFD: UTF-8 cannot hold it, so no file or SQLite store could take the text that holds it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import orjson

JSONDecodeError = json.JSONDecodeError


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # What orjson refuses, json may take; else json's message (with its column). Bytes are decoded
        # first: json would guess UTF-16 or UTF-32 where the import promises UTF-8.
        return whole_characters(json.loads(text.decode("utf-8") if isinstance(text, bytes) else text))


_SURROGATE = re.compile("[\ud800-\udfff]")  # in a str, always lone: json joins a pair into one character


def whole_characters(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [whole_characters(v) for v in value]
    if isinstance(value, dict):
        return {whole_characters(k): whole_characters(v) for k, v in value.items()}
    return value


def _plain(value: Any) -> Any:
    """What json cannot write itself: dataclasses as objects (as orjson writes them), the rest as ``str``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return str(value)


def dump_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON bytes, as a request body (orjson; json for what orjson refuses, e.g. huge ints)."""
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, default=_plain, separators=(",", ":")).encode()  # ASCII: lone surrogates too


def dumps(value: Any, *, indent: bool = False) -> str:
    """UTF-8 JSON text (no ASCII escaping), compact or indented by two spaces; dataclasses as objects of their
    fields, and anything else not JSON as its ``str``. (json's indenting encoder is pure Python: 0.1 s for a
    1,000-case report.)"""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_INDENT_2 if indent else 0).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, ensure_ascii=False, default=_plain, indent=2 if indent else None,
                          separators=(",", ": ") if indent else (",", ":"))
