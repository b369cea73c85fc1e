"""What optimisation may do to a prompt's tools: show them to the proposer, take new descriptions from a
proposal when asked to (``--rewrite-tool-descriptions``), and refuse any other change to them."""

from __future__ import annotations

import json
from typing import Any

from promptloop.repo.prompts import Prompt

MAX_LISTING_CHARS = 3000


def with_tool_descriptions(tools: list[dict[str, Any]], descriptions: Any) -> list[dict[str, Any]] | None:
    """``tools`` with the descriptions a proposal gives (a mapping of tool name to text) put in; None when it
    gives no usable new description. Names and parameters are copied as they are."""
    if not isinstance(descriptions, dict):
        return None
    out, changed = [], False
    for t in tools:
        fn = t["function"]
        new = descriptions.get(fn["name"])
        if isinstance(new, str) and new.strip() and new.strip() != str(fn.get("description", "")).strip():
            out.append({**t, "function": {**fn, "description": new.strip()}})
            changed = True
        else:
            out.append(t)
    return out if changed else None


def tools_change(candidate_tools: list[dict[str, Any]] | None, prompt: Prompt, allowed: bool) -> str | None:
    """Why a candidate's tools may not be scored: only descriptions may change, and only when asked for."""
    if candidate_tools is None:
        return None
    if not allowed:
        return "rewrites tool descriptions, which needs --rewrite-tool-descriptions"

    def shape(tools: list[dict[str, Any]]) -> list[Any]:
        return [{**t, "function": {k: v for k, v in t["function"].items() if k != "description"}} for t in tools]

    if shape(candidate_tools) != shape(prompt.tools):
        return "changes a tool's name or parameters; only descriptions may change"
    return None


def describe_tools(prompt: Prompt, tools: list[dict[str, Any]] | None = None, rewrite: bool = False) -> str:
    """The tools the model may call, for the proposer: names and parameters fixed, so a rewrite can only say
    when to use them (and, with ``rewrite``, describe them better)."""
    tools = prompt.tools if tools is None else tools
    if not tools:
        return ""
    listing = json.dumps([{"name": t["function"]["name"], "description": t["function"].get("description", ""),
                           "parameters": t["function"].get("parameters", {})} for t in tools],
                         ensure_ascii=False, indent=1)
    may = ("the instructions may say when and how to use them, and a version may give clearer descriptions of "
           "them under \"tool_descriptions\" (tool name: new description)" if rewrite
           else "the instructions may say when and how to use them")
    if len(listing) > MAX_LISTING_CHARS:
        listing = listing[:MAX_LISTING_CHARS - 15] + " …[truncated]"
    # "<" as a JSON escape: nothing in a description can close its own <data> block.
    return ("\nThe model may call these tools (their names and parameters are fixed and cannot change; "
            f"{may}):\n<data>\n" + listing.replace("<", "\\u003c") + "\n</data>")
