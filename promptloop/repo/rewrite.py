"""Rewrite a prompt file's ``messages:`` block, keeping every other byte (comments, key order).

The winner of an optimisation is committed as this rewrite, so a reviewer's diff shows just
the changed prompt text.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

TOP_KEY = re.compile(r"^[A-Za-z_\"'][^\n:]*:")


def _scalar(text: str, indent: str) -> str:
    """A YAML scalar for ``text``: a literal block for multi-line text, else a quoted line."""
    lines = text.split("\n")
    body = lines[:-1] if text.endswith("\n") else lines
    block_ok = "\n" in text and all(not ln[:1].isspace() for ln in body[:1]) and not text.endswith("\n\n") \
        and all(ln == ln.rstrip(" \t") for ln in body) and "\t" not in text and "\r" not in text
    if block_ok:
        chomp = "|" if text.endswith("\n") else "|-"
        return chomp + "\n" + "\n".join((indent + ln) if ln else "" for ln in body) + "\n"
    if "\n" not in text and text and text == text.strip():
        plain = yaml.safe_dump(text, default_flow_style=True, width=10**9, allow_unicode=True)
        plain = plain.removesuffix("\n...\n").removesuffix("\n")
        if "\n" not in plain:
            return plain + "\n"
    return json.dumps(text, ensure_ascii=False) + "\n"


def dump_messages(messages: list[dict[str, Any]]) -> str:
    out = "messages:\n"
    for m in messages:
        out += f"  - role: {m['role']}\n    content: " + _scalar(str(m["content"]), "      ")
    return out


def messages_span(text: str) -> tuple[int, int]:
    """Character offsets of the top-level ``messages:`` entry, trailing comments excluded."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for ln in lines:
        offsets.append(offsets[-1] + len(ln))
    start = next((i for i, ln in enumerate(lines) if ln.startswith("messages:")), None)
    if start is None:
        raise ValueError("no top-level messages: key")
    end = len(lines)
    for i in range(start + 1, len(lines)):
        if TOP_KEY.match(lines[i]):
            end = i
            break
    while end > start + 1 and (lines[end - 1].strip() == "" or lines[end - 1].startswith("#")):
        end -= 1
    return offsets[start], offsets[end]


def _original_items(block: str) -> dict[tuple[str, str], str]:
    """The original text of each message item in a ``messages:`` block, by (role, content)."""
    lines = block.splitlines(keepends=True)[1:]
    item = re.compile(r"^(\s*)- ")
    indent = next((m.group(1) for ln in lines if (m := item.match(ln))), None)
    if indent is None:
        return {}
    chunks: list[str] = []
    current = ""
    for ln in lines:
        m = item.match(ln)
        if m and m.group(1) == indent and current.strip() and any(item.match(x) for x in current.splitlines()):
            chunks.append(current)
            current = ""
        current += ln
    chunks.append(current)
    out: dict[tuple[str, str], str] = {}
    for chunk in chunks:
        try:
            parsed = yaml.safe_load("\n".join(ln[len(indent):] if ln.startswith(indent) else ln
                                              for ln in chunk.splitlines()))
        except yaml.YAMLError:
            continue
        if isinstance(parsed, list) and len(parsed) == 1 and isinstance(parsed[0], dict):
            m0 = parsed[0]
            out.setdefault((str(m0.get("role")), str(m0.get("content"))), chunk)
    return out


def replace_messages(text: str, messages: list[dict[str, Any]]) -> str:
    """``text`` with its messages replaced; unchanged messages keep their original text, so the
    diff shows only what changed. Checked by parsing the result back."""
    start, end = messages_span(text)
    kept = _original_items(text[start:end])
    body = "messages:\n"
    for m in messages:
        original = kept.get((m["role"], m["content"]))
        body += original if original is not None else dump_messages([m]).removeprefix("messages:\n")
    if not body.endswith("\n"):
        body += "\n"
    new = text[:start] + body + text[end:]
    parsed = yaml.safe_load(new)
    if [dict(m) for m in parsed["messages"]] != [{"role": m["role"], "content": m["content"]} for m in messages]:
        raise ValueError("rewritten prompt does not round-trip")  # pragma: no cover - guarded by tests
    return new
