"""The shipped JSON Schemas as standalone files: every reference to a sibling schema inlined, so editors and
tools such as check-jsonschema resolve them without promptloop (and without the network)."""

from __future__ import annotations

from typing import Any

from promptloop.repo.files import SCHEMA_NAMES, schema

__all__ = ["SCHEMA_NAMES", "standalone"]


def standalone(name: str) -> dict[str, Any]:
    """``schema(name)`` with every reference to a sibling schema inlined into its own ``$defs``, so editors
    and tools such as check-jsonschema resolve it without promptloop (and without the network)."""
    import copy

    doc = copy.deepcopy(schema(name))
    defs = doc.setdefault("$defs", {})

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ".schema.json#/$defs/" in ref:
                other, _, pointer = ref.partition(".schema.json#/$defs/")
                for key, value in schema(other).get("$defs", {}).items():
                    if key not in defs:
                        defs[key] = copy.deepcopy(value)
                        walk(defs[key])
                node["$ref"] = f"#/$defs/{pointer}"
            for value in list(node.values()):
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    return doc
