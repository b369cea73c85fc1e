"""Rewrite a prompt file's ``messages:`` list, keeping every other byte (comments, key order, layout).

The winner of an optimisation is committed as this rewrite, so a reviewer's diff shows just the
changed prompt text. The edit is made on the text, at the positions the YAML parser reports for
each node: unchanged messages keep their exact text (and the comments between them), a changed
message has only its changed scalars replaced, and messages are inserted or removed as whole
items. Any layout YAML allows works: block sequences indented or not, flow style, quoted, folded
and literal scalars, comments anywhere, CRLF line ends. The result is parsed back and checked.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

import yaml

from promptloop.errors import ConfigError

Message = dict[str, Any]


_PLAIN = re.compile(r"[A-Za-z_][\w .!?()/'-]*")


def _plain_ok(text: str) -> bool:
    """Whether ``text`` survives as an unquoted one-line scalar in block and flow context alike."""
    if not _PLAIN.fullmatch(text) or text != text.strip():
        return False
    return yaml.safe_load(text) == text  # not a bool, number or null in disguise (yes, no, null, 1e3)


def scalar(text: str, indent: int, nl: str, *, flow: bool) -> str:
    """A YAML scalar for ``text`` that needs nothing after it on its line.

    A literal block (``|`` / ``|-``) for ordinary multi-line text in block context, else a plain
    scalar where that is safe, else a double-quoted JSON string (always valid YAML)."""
    if _plain_ok(text):
        return text
    body = text[:-1] if text.endswith("\n") else text
    lines = body.split("\n")
    block_ok = (not flow and "\n" in text and not text.endswith("\n\n") and "\r" not in text and "\t" not in text
                and lines[0][:1] not in (" ", "") and all(ln == ln.rstrip(" ") for ln in lines))
    if block_ok:
        pad = " " * indent
        head = "|" if text.endswith("\n") else "|-"
        return head + nl + nl.join((pad + ln) if ln else "" for ln in lines)
    return json.dumps(text, ensure_ascii=False)


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    """Index just past the line break ending the line that holds ``index``."""
    end = text.find("\n", index)
    return len(text) if end == -1 else end + 1


class _Item:
    """One message of a block sequence, with the text positions needed to edit it."""

    def __init__(self, text: str, node: yaml.MappingNode) -> None:
        self.node = node
        dash = node.start_mark.index - 1
        while dash >= 0 and text[dash] in " \t\r\n":
            dash -= 1
        if dash < 0 or text[dash] != "-":
            raise ValueError("a message item does not start with '-'")
        self.start = _line_start(text, dash)  # the dash's line
        nodes = [node] if node.flow_style else [n for pair in node.value for n in pair]
        self.end = _line_end(text, max(_trim_block_end(text, n) for n in nodes) - 1)  # its last line, with the break
        self.dash_col = dash - self.start
        self.key_col = node.start_mark.column
        self.flow = node.flow_style
        self.values = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _trim_block_end(text: str, node: yaml.Node) -> int:
    """Where a scalar's own text ends: a block scalar's span swallows the blank lines after it."""
    end = node.end_mark.index
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        while end > node.start_mark.index and text[end - 1] in " \t\r\n":
            end -= 1
    return end


def _messages_node(root: yaml.Node | None) -> yaml.SequenceNode:
    if not isinstance(root, yaml.MappingNode):
        raise ValueError("the prompt file is not a mapping")
    for k, v in root.value:
        if isinstance(k, yaml.ScalarNode) and k.value == "messages":
            if not isinstance(v, yaml.SequenceNode):
                raise ValueError("messages: is not a list")
            return v
    raise ValueError("no top-level messages: key")


# example: the golden case a demonstration turn was copied from; tool_calls: an assistant turn's calls (written as
# JSON, which YAML reads as the same list); placeholder: where a case's conversation goes.
FIELDS = ("placeholder", "role", "content", "tool_calls", "tool_call_id", "example")
RAW = {"tool_calls"}  # written as JSON, never as a string scalar


def _norm(m: Any) -> Message:
    return {k: json.dumps(m[k], ensure_ascii=False, sort_keys=True) if k in RAW else str(m[k])
            for k in FIELDS if m.get(k) is not None}


def _key(m: Message) -> tuple[str, ...]:
    return tuple(f"{k}={m[k]}" for k in FIELDS if k in m)


def _flow_item(m: Message) -> str:
    return "{" + ", ".join(f"{k}: {m[k] if k in RAW else json.dumps(m[k], ensure_ascii=False)}"
                           for k in FIELDS if k in m) + "}"


def _block_item(m: Message, dash_col: int, key_col: int, nl: str) -> str:
    lines = [f"{k}: {m[k] if k in RAW else scalar(str(m[k]), key_col + 2, nl, flow=False)}" for k in FIELDS if k in m]
    first = " " * dash_col + "-" + " " * (key_col - dash_col - 1)
    return first + (nl + " " * key_col).join(lines) + nl


def _rewrite_flow(text: str, seq: yaml.SequenceNode, old: list[Message], new: list[Message]) -> str:
    spans = [text[n.start_mark.index:n.end_mark.index] for n in seq.value]
    kept = {_key(m): spans[i] for i, m in enumerate(old)}
    body = "[" + ", ".join(kept.get(_key(m)) or _flow_item(m) for m in new) + "]"
    return text[:seq.start_mark.index] + body + text[seq.end_mark.index:]


def _rewrite_block(text: str, seq: yaml.SequenceNode, old: list[Message], new: list[Message], nl: str) -> str:
    items = [_Item(text, n) for n in seq.value]
    dash_col, key_col = items[0].dash_col, items[0].key_col
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), applied from the end
    ops = difflib.SequenceMatcher(a=[_key(m) for m in old], b=[_key(m) for m in new], autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            continue
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        # In place only where both have the same fields; otherwise the items are replaced whole.
        if any(set(old[i1 + k]) != set(new[j1 + k]) or any(old[i1 + k].get(f) != new[j1 + k].get(f) for f in RAW)
               for k in range(paired)):
            paired = 0
        for k in range(paired):  # edit in place: only the scalars that changed
            item, m = items[i1 + k], new[j1 + k]
            for field in FIELDS:
                if field not in m or old[i1 + k].get(field) == m[field]:
                    continue
                node = item.values[field]
                start, end = node.start_mark.index, _trim_block_end(text, node)
                # Inside a flow mapping, or with a comment after it on its line, only a one-line scalar fits.
                flow = bool(item.flow) or bool(text[end:_line_end(text, end)].strip())
                edits.append((start, end, scalar(str(m[field]), item.key_col + 2, nl, flow=flow)))
        for k in range(i1 + paired, i2):  # removed messages go with their whole lines
            edits.append((items[k].start, items[k].end, ""))
        if j1 + paired < j2:
            block = "".join(_block_item(m, dash_col, key_col, nl) for m in new[j1 + paired:j2])
            at = items[i2].start if i2 < len(items) else items[-1].end
            if at == len(text) and not text.endswith("\n"):
                block = nl + block.removesuffix(nl)
            edits.append((at, at, block))
    out = text
    for start, end, rep in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        out = out[:start] + rep + out[end:]
    return out


def replace_messages(text: str, messages: list[Message]) -> str:
    """``text`` with its ``messages:`` replaced by ``messages``, every other byte unchanged."""
    nl = "\r\n" if "\r\n" in text else "\n"
    work = text  # positions from the parser are indices into this very text, CRLF or not
    new = [_norm(m) for m in messages]
    try:
        seq = _messages_node(yaml.compose(work, Loader=yaml.SafeLoader))
        old = [_norm(m) for m in yaml.safe_load(work)["messages"]]
        if not new:
            raise ValueError("a prompt needs at least one message")
        if seq.flow_style or not seq.value:
            out = _rewrite_flow(work, seq, old, new)
        else:
            out = _rewrite_block(work, seq, old, new, nl)
        back = yaml.safe_load(out)["messages"]
    except (yaml.YAMLError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ConfigError(f"cannot rewrite the messages of this file safely ({e})") from None
    if [_norm(m) for m in back] != new:
        raise ConfigError("cannot rewrite the messages of this file safely (the result does not read back as "
                          "the new messages)")
    return out


def _value(v: Any) -> str:
    return v if isinstance(v, str) and _plain_ok(v) else json.dumps(v, ensure_ascii=False)


def set_output(text: str, output: dict[str, Any]) -> str:
    """``text`` with its top-level ``output:`` set to ``output`` (see :func:`set_mapping`)."""
    return set_mapping(text, "output", output)


def set_mapping(text: str, key: str, output: dict[str, Any]) -> str:
    """``text`` with its top-level ``key:`` (a mapping: ``output``, ``model``) set to ``output``: new keys are
    added as lines of their own (changed or removed ones rewrite the block); every other byte is kept. Checked
    by parsing it back."""
    nl = "\r\n" if "\r\n" in text else "\n"
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        node = next((v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == key), None) \
            if isinstance(root, yaml.MappingNode) else None
        current = (yaml.safe_load(text) or {}).get(key) or {}
        if node is None:
            body = "".join(f"  {k}: {_value(v)}{nl}" for k, v in output.items())
            out = text + ("" if text.endswith(("\n", "\r")) or not text else nl) + f"{key}:" + nl + body
        elif isinstance(node, yaml.MappingNode) and not node.flow_style and node.value and all(
                current.get(k) == v for k, v in current.items() if k in output) and set(current) <= set(output):
            col = node.value[0][0].start_mark.column
            end = _line_end(text, max(_trim_block_end(text, v) for _, v in node.value) - 1)
            added = "".join(f"{' ' * col}{k}: {_value(v)}{nl}"
                            for k, v in output.items() if k not in current)
            out = text[:end] + added + text[end:]
        else:
            out = text[:node.start_mark.index] + json.dumps(output, ensure_ascii=False) + text[node.end_mark.index:]
        back = (yaml.safe_load(out) or {}).get(key)
    except (yaml.YAMLError, ValueError, AttributeError) as e:
        raise ConfigError(f"cannot set `{key}:` in this file safely ({e})") from None
    if back != output:
        raise ConfigError(f"cannot set `{key}:` in this file safely (the result does not read back)")
    return out


def _child(node: yaml.Node, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def set_tool_descriptions(text: str, descriptions: dict[str, str]) -> str:
    """``text`` — a prompt file with inline ``tools:``, or a tools file (a list) — with the named tools'
    descriptions replaced; every other byte kept. A tool without a description gets one after its name.
    Checked by parsing it back: only those descriptions may differ."""
    nl = "\r\n" if "\r\n" in text else "\n"
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        seq = root if isinstance(root, yaml.SequenceNode) else _child(root, "tools") if root is not None else None
        if not isinstance(seq, yaml.SequenceNode):
            raise ValueError("no list of tools")
        edits: list[tuple[int, int, str]] = []
        for item in seq.value:
            fn = _child(item, "function")
            name = _child(fn, "name") if fn is not None else None
            if not isinstance(fn, yaml.MappingNode) or not isinstance(name, yaml.ScalarNode) \
                    or name.value not in descriptions:
                continue
            new, node = descriptions[name.value], _child(fn, "description")
            if node is not None:
                end = _trim_block_end(text, node)
                flow = fn.flow_style or bool(text[end:_line_end(text, end)].strip())
                edits.append((node.start_mark.index, end, scalar(new, node.start_mark.column + 2, nl, flow=flow)))
            elif fn.flow_style:
                at = name.end_mark.index
                edits.append((at, at, ", description: " + json.dumps(new, ensure_ascii=False)))
            else:
                col = fn.value[0][0].start_mark.column
                at = _line_end(text, _trim_block_end(text, name) - 1)
                edits.append((at, at, " " * col + "description: " + scalar(new, col + 2, nl, flow=False) + nl))
        out = text
        for start, end, rep in sorted(edits, reverse=True):
            out = out[:start] + rep + out[end:]
        before, after = yaml.safe_load(text), yaml.safe_load(out)
    except (yaml.YAMLError, ValueError, AttributeError, IndexError) as e:
        raise ConfigError(f"cannot rewrite the tool descriptions of this file safely ({e})") from None
    tools = before if isinstance(before, list) else before["tools"]
    for t in tools:
        if isinstance(t, dict) and isinstance(t.get("function"), dict) and t["function"].get("name") in descriptions:
            t["function"]["description"] = descriptions[t["function"]["name"]]
    if after != before:
        raise ConfigError("cannot rewrite the tool descriptions of this file safely (the result does not read back)")
    return out
