"""Tools a prompt declares and the conversations cases carry.

Tools are written in the OpenAI chat-completions format (``{type: function, function: {name, description,
parameters}}``), inline or in a file of their own that the prompt names (a path from the prompt file's
folder). Conversations are lists of messages - user and assistant turns, assistant tool calls with their
ids, tool results - spliced into the prompt's messages where a ``{placeholder: NAME}`` item stands; their
text is data, never a template.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from promptloop.errors import ConfigError
from promptloop.repo.files import Document, found_valid, load_yaml, remember_valid
from promptloop.repo.user_schemas import check_json_schema

Path_ = tuple[str | int, ...]


def tools_file(prompt_path: Path, ref: str) -> Path:
    """Where a prompt's ``tools: FILE`` is: relative to the prompt file's folder."""
    return (prompt_path.parent / ref).resolve()


def load_tools(data: dict[str, Any], prompt_path: Path, doc: Document | None) -> list[dict[str, Any]]:
    """The prompt's tools, read from the file it names if it names one; checked: names unique, each
    ``parameters`` a valid JSON Schema, ``tool_choice`` naming a declared tool."""
    raw = data.get("tools")
    if raw is None:
        tools: list[dict[str, Any]] = []
    elif isinstance(raw, str):
        tools = _read_tools_file(_inside_repo(tools_file(prompt_path, raw), prompt_path, doc), doc)
    else:
        tools = list(raw)
    names: set[str] = set()
    schemas_checked = found_valid("tool-parameters", tools)  # unchanged tools: their schemas were checked
    for i, t in enumerate(tools):
        name = t["function"]["name"]
        if name in names:
            raise _error(doc, ("tools", i, "function", "name"), f"tool '{name}' is declared twice; names must be "
                                                                "unique")
        names.add(name)
        params = t["function"].get("parameters")
        if params is not None and doc is not None and not schemas_checked:
            check_json_schema(params, doc, ("tools", i, "function", "parameters"))
    if doc is not None and not schemas_checked:
        remember_valid("tool-parameters", tools)
    choice = data.get("tool_choice")
    if choice is not None and not tools and choice != "none":
        raise _error(doc, ("tool_choice",), "tool_choice needs tools; declare them under `tools:`")
    if isinstance(choice, dict) and choice["function"]["name"] not in names:
        raise _error(doc, ("tool_choice", "function", "name"),
                     f"tool_choice names '{choice['function']['name']}', which is not a declared tool "
                     f"({', '.join(sorted(names))})")
    return tools


def _inside_repo(path: Path, prompt_path: Path, doc: Document | None) -> Path:
    """A tools file is a file of the prompt repo (as a python check's module is): never ``../../`` out of it,
    nor a symlink pointing elsewhere — what it holds is sent to the model with every request."""
    from promptloop.errors import RepoNotFound
    from promptloop.repo.config import find_root

    try:
        root = find_root(prompt_path.parent)
    except RepoNotFound:
        root = prompt_path.resolve().parent.parent
    if not path.resolve().is_relative_to(root.resolve()):
        raise _error(doc, ("tools",), f"tools file {path} is outside the prompt repo {root}; keep it in the repo")
    return path


def check_case(c: dict[str, Any], placeholders: list[str], doc: Document, i: int) -> None:
    """What the golden schema cannot say about a case: each conversation a list of turns, each expected tool
    call an object with a name (a case that cannot be scored is an error now, not after its calls are paid)."""
    for name in placeholders:
        turns = c["inputs"].get(name)
        if not isinstance(turns, list):
            raise doc.error(("cases", i, "inputs", name), f"input '{name}' fills a placeholder: give it a list of "
                                                          "messages ({role, content}, tool_calls, tool results)")
        for j, m in enumerate(turns):
            if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "tool"):
                raise doc.error(("cases", i, "inputs", name, j), "a turn is {role: system|user|assistant|tool, "
                                                                 "content: ...}")
            if m["role"] == "tool" and not m.get("tool_call_id"):
                raise doc.error(("cases", i, "inputs", name, j), "a tool turn needs tool_call_id: the id of the "
                                                                 "call it answers")
    expected = c.get("expected")
    calls = expected.get("tool_calls") if isinstance(expected, dict) else None
    if isinstance(expected, dict) and "tool_calls" in expected:
        if not isinstance(calls, list):
            raise doc.error(("cases", i, "expected", "tool_calls"), "tool_calls is a list of expected calls "
                                                                    "([] for none)")
        for j, call in enumerate(calls):
            if not isinstance(call, dict) or not isinstance(call.get("name"), str) or not isinstance(
                    call.get("arguments", {}), dict):
                raise doc.error(("cases", i, "expected", "tool_calls", j), "an expected call is {name: TOOL, "
                                                                           "arguments: {...}}")


def _read_tools_file(path: Path, doc: Document | None) -> list[dict[str, Any]]:
    from promptloop.repo.files import validate_value

    if not path.is_file():
        raise _error(doc, ("tools",), f"tools file {path} not found; write the tools there or inline under `tools:`")
    tools_doc = load_yaml(path)
    if not isinstance(tools_doc.data, list):
        raise tools_doc.error((), "a tools file holds a list of tools ({type: function, function: {name, ...}})")
    validate_value(tools_doc, "prompt", "tool")
    return list(tools_doc.data)


def _error(doc: Document | None, path: Path_, message: str) -> ConfigError:
    return doc.error(path, message) if doc is not None else ConfigError(message)


def check_messages(messages: list[dict[str, Any]], inputs: list[str], doc: Document) -> None:
    """What the schema cannot say about the prompt's messages: text turns have content, a tool turn names
    its call, a placeholder names a declared input."""
    for i, m in enumerate(messages):
        if "placeholder" in m:
            if m["placeholder"] not in inputs:
                raise doc.error(("messages", i, "placeholder"),
                                f"placeholder '{m['placeholder']}' is not declared; add it to inputs (each case gives "
                                "it a list of messages)")
            continue
        role = m["role"]
        if role == "tool" and not m.get("tool_call_id"):
            raise doc.error(("messages", i), "a tool turn needs tool_call_id: the id of the call it answers")
        if role != "assistant" and not isinstance(m.get("content"), str):
            raise doc.error(("messages", i), f"a {role} turn needs content")
        if role == "assistant" and m.get("content") is None and not m.get("tool_calls"):
            raise doc.error(("messages", i), "an assistant turn needs content or tool_calls")


def conversation(value: Any, name: str) -> list[dict[str, Any]]:
    """A case's value for a placeholder, as wire messages; a clear error for anything else."""
    if not isinstance(value, list) or not all(isinstance(m, dict) and "role" in m for m in value):
        raise ConfigError(f"input '{name}' fills a placeholder: give it a list of messages ({{role, content}}, "
                          "assistant tool_calls, tool results)")
    return [wire_message(m) for m in value]


def wire_message(m: dict[str, Any]) -> dict[str, Any]:
    """A message as the OpenAI chat API takes it: tool calls as ``{id, type, function: {name, arguments}}``
    with the arguments as JSON text. Messages already in that shape pass unchanged."""
    out = {k: v for k, v in m.items() if k not in ("example", "tool_calls")}
    calls = m.get("tool_calls")
    if calls:
        out["tool_calls"] = [c if "function" in c else {
            "id": c.get("id") or f"call_{i}", "type": "function",
            "function": {"name": c["name"], "arguments": c["arguments"] if isinstance(c.get("arguments"), str)
                         else json.dumps(c.get("arguments") or {}, ensure_ascii=False)}} for i, c in enumerate(calls)]
        out.setdefault("content", None)
    return out
