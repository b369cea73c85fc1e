"""JSON Schemas written by users (an output schema, a json_schema assertion's value, a tool's parameters):
checked to be valid schemas, with only local ``$ref``s, so that checking one never reaches the network."""

from __future__ import annotations

from typing import Any

from promptloop.repo.files import Document

# A schema goes into every request (response_format, tools): a few hundred bytes of YAML aliases must not make
# it megabytes. Real schemas, even large tool sets, have a few thousand values.
MAX_SCHEMA_VALUES = 20_000


def _too_big(node: Any, budget: list[int]) -> bool:
    budget[0] -= 1
    if budget[0] < 0:
        return True
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    return any(_too_big(c, budget) for c in children)


def check_json_schema(schema: Any, doc: Document, path: tuple[str | int, ...]) -> None:
    import jsonschema

    if _too_big(schema, [MAX_SCHEMA_VALUES]):
        raise doc.error(path, f"this JSON Schema expands to more than {MAX_SCHEMA_VALUES:,} values (YAML aliases "
                              "used over and over?) and would be sent with every request; write it out smaller")

    try:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
    except jsonschema.SchemaError as e:
        where = path + tuple(e.absolute_path)
        raise doc.error(where, f"invalid JSON Schema at {'.'.join(map(str, where))}: {e.message}") from None
    for where, ref in _refs(schema, ()):
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise doc.error(path + where, f"$ref {ref!r} points outside this schema; only local refs (#/...) are "
                                          "resolved, so that checking a schema never reaches the network")
        if not _pointer_ok(schema, ref[1:]):
            raise doc.error(path + where, f"$ref {ref!r} points at nothing in this schema; fix the path")


def _refs(node: Any, where: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], Any]]:
    out: list[tuple[tuple[str | int, ...], Any]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                out.append(((*where, k), v))
            else:
                out += _refs(v, (*where, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _refs(v, (*where, i))
    return out


def _pointer_ok(schema: Any, pointer: str) -> bool:
    node = schema
    for raw in [p for p in pointer.split("/") if p]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True
