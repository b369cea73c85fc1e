"""Reading trace files: JSONL, JSON, gzip and VCR cassettes into (line, record) pairs."""

from __future__ import annotations

import gzip
import itertools
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from promptloop import codec
from promptloop.errors import ConfigError
from promptloop.repo.files import safe_load_bounded


class RecordError(ValueError):
    """A record that cannot be imported; the message says why."""


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_binary(path: Path) -> Any:
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


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


def read_blocks(path: Path, size: int) -> Iterator[tuple[int, bytes]]:
    """A JSONL file (gzip or not) as blocks of whole lines, each with the number of its first line: the
    reading process only moves bytes, and whoever parses a block splits it (see ``block_lines``).

    Read in pieces (``read1``), so that a file damaged part way (a truncated or corrupt .gz) still gives
    every whole line before the damage; then the error is raised for the caller to report."""
    line = 1
    pieces: list[bytes] = []
    held = 0
    with open_binary(path) as fh:
        try:
            while piece := fh.read1(size):
                pieces.append(piece)
                held += len(piece)
                if held < size:
                    continue
                data = b"".join(pieces)
                cut = data.rfind(b"\n") + 1
                if cut == 0:  # one line longer than a block: keep reading
                    pieces = [data]
                    continue
                yield line, data[:cut]
                line += data.count(b"\n", 0, cut)
                pieces, held = [data[cut:]], len(data) - cut
        except (OSError, EOFError, zlib.error):
            data = b"".join(pieces)
            cut = data.rfind(b"\n") + 1
            if cut:
                yield line, data[:cut]
            raise
    data = b"".join(pieces)
    if data:
        yield line, data


def block_lines(first: int, data: bytes) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines of a block with their numbers."""
    for n, raw in enumerate(data.split(b"\n"), first):
        if raw.strip():
            yield n, raw


def whole_text(path: Path) -> str | RecordError:
    """The whole file (gzip or not) as text, or the RecordError saying why it is not UTF-8."""
    with open_binary(path) as fh:
        return decode(fh.read())


def read_cassette(path: Path) -> Iterator[tuple[int, Any]]:
    """VCR cassettes (YAML) of recorded HTTP calls: every interaction becomes a record ``{request, response, uri,
    status}``; the formats decide which are model calls (and say which are not)."""
    text = whole_text(path)
    if isinstance(text, RecordError):
        yield 1, text
        return
    try:
        doc = safe_load_bounded(text, str(path))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        yield (mark.line + 1 if mark else 1), RecordError(f"invalid YAML: {getattr(e, 'problem', e)}")
        return
    except ConfigError as e:
        yield 1, RecordError(e.detail)
        return
    interactions = doc.get("interactions") if isinstance(doc, dict) else None
    if not isinstance(interactions, list):
        yield 1, RecordError("not a VCR cassette: no `interactions:` list")
        return
    for i, it in enumerate(interactions):
        if not isinstance(it, dict) or not isinstance(it.get("request") or {}, dict) or not isinstance(
                it.get("response") or {}, dict):
            yield i + 1, RecordError(f"interaction {i}: request and response must be mappings")
            continue
        req, resp = it.get("request") or {}, it.get("response") or {}
        try:
            yield i + 1, {"request": _body(req, "{}"), "response": _body(resp, "null"), "uri": req.get("uri"),
                          "status": (resp.get("status") or {}).get("code") if isinstance(resp.get("status"), dict)
                          else resp.get("status")}
        except (ValueError, UnicodeDecodeError, TypeError, OSError, EOFError, RecursionError) as e:
            yield i + 1, RecordError(f"interaction {i}: body is not JSON ({e.__class__.__name__}: {e})")


def _body(part: dict[str, Any], empty: str) -> Any:
    """A recorded request's or response's JSON body: VCR's ``body`` (text, ``{string: ...}``, gzip bytes), or
    an already parsed ``parsed_body`` (as pydantic-ai's cassettes keep it)."""
    if "parsed_body" in part:
        return part["parsed_body"]
    body = part.get("body")
    body = body.get("string") if isinstance(body, dict) else body
    if isinstance(body, bytes):
        body = (gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body).decode("utf-8")
    return codec.loads(body or empty)


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
        text = whole_text(path)
        if isinstance(text, RecordError):
            yield 1, text
            return
        try:
            doc = codec.loads(text)
        except codec.JSONDecodeError as e:
            yield e.lineno, RecordError(f"invalid JSON: {e.msg} (column {e.colno})")
            return
        except RecursionError:
            yield 1, RecordError("JSON nested too deeply to read")
            return
        items = doc if isinstance(doc, list) else (doc["data"] if isinstance(doc, dict) and doc.get(
            "object") == "list" and isinstance(doc.get("data"), list) else [doc])
        lines_of = item_lines(text) if isinstance(doc, list) else []
        for i, item in enumerate(items):
            yield (lines_of[i] if i < len(lines_of) else 1), item
        return
    for n, line in itertools.chain([first], lines):
        yield n, parse_line(line)


# Strings, brackets, commas and bare scalars (numbers, true, false, null): enough to find where items start.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]|[^\s"\[\]{},:]+')
MAX_LOCATED = 64 * 1024 * 1024  # beyond this a JSON array's items are all reported at line 1


def item_lines(text: str) -> list[int]:
    """The line each item of a top-level JSON array starts on (a problem with one names its line)."""
    if len(text) > MAX_LOCATED:
        return []
    out: list[int] = []
    depth, line, at, expect = 0, 1, 0, False
    for m in _TOKENS.finditer(text):
        token = m.group()
        if expect and depth == 1 and token != "]":  # the first token of a top-level item
            line += text.count("\n", at, m.start())
            at = m.start()
            out.append(line)
        expect = False
        if token in ("[", "{"):
            depth += 1
            expect = depth == 1
        elif token in ("]", "}"):
            depth -= 1
        elif token == "," and depth == 1:
            expect = True
    return out


def parse_line(line: str | bytes | RecordError) -> Any:
    """A JSONL line's record, or the RecordError saying why it is not one."""
    if isinstance(line, RecordError):
        return line
    try:
        return codec.loads(line)
    except UnicodeDecodeError:
        return decode(line) if isinstance(line, bytes) else RecordError("not UTF-8 text")
    except codec.JSONDecodeError as e:
        return RecordError(f"invalid JSON: {e.msg} (column {e.colno})")
    except RecursionError:
        return RecordError("JSON nested too deeply to read")
