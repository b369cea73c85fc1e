"""A quick validity test for the JSON Schemas tools usually declare: objects of typed properties, enums,
required keys, arrays of typed items. A schema using anything else gets no quick test (None), and a value
the quick test refuses is checked again by jsonschema for its reason: the quick test only ever says yes
where jsonschema says yes (a property test holds it to that)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Test = Callable[[Any], bool]

# Keywords that say nothing about validity.
ANNOTATIONS = {"description", "title", "default", "examples", "optional", "$comment", "deprecated", "readOnly",
               "writeOnly"}
HANDLED = {"type", "enum", "const", "properties", "required", "additionalProperties", "items"} | ANNOTATIONS


def _is_type(value: Any, name: str) -> bool:
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if isinstance(value, bool):
        return False
    if name == "number":
        return isinstance(value, (int, float))
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return False


def _same(a: Any, b: Any) -> bool:
    """JSON equality: 1 equals 1.0, True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return bool(a == b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


_CLASS = {"string": str, "boolean": bool, "object": dict, "array": list}  # types that are exactly one class


def _of_types(kinds: tuple[str, ...]) -> Test:
    if len(kinds) == 1 and kinds[0] in _CLASS:  # the usual case, as one isinstance
        cls = _CLASS[kinds[0]]
        return lambda v: isinstance(v, cls)
    return lambda v: any(_is_type(v, k) for k in kinds)


def _one_of(options: tuple[Any, ...]) -> Test:
    if options and all(isinstance(o, str) for o in options):  # an enum of strings: a set lookup
        strings = frozenset(options)
        return lambda v: isinstance(v, str) and v in strings
    return lambda v: any(_same(v, o) for o in options)


def _items(item: Test) -> Test:
    return lambda v: not isinstance(v, list) or all(item(x) for x in v)


def _all(tests: list[Test]) -> Test:
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda v: first(v) and second(v)
    return lambda v: all(t(v) for t in tests)


def quick_test(schema: Any) -> Test | None:
    """A function telling whether a value is valid against ``schema``, or None when the schema uses more
    than this handles."""
    if schema is True or schema == {}:
        return lambda value: True
    if not isinstance(schema, dict) or not set(schema) <= HANDLED:
        return None
    tests: list[Test] = []
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not all(isinstance(k, str) for k in kinds):
            return None
        tests.append(_of_types(tuple(kinds)))
    if "enum" in schema:
        if not isinstance(schema["enum"], list):
            return None
        tests.append(_one_of(tuple(schema["enum"])))
    if "const" in schema:
        tests.append(_one_of((schema["const"],)))
    handled, object_test = _object_test(schema)
    if not handled:
        return None
    if object_test is not None:
        tests.append(object_test)
    if "items" in schema:
        item = quick_test(schema["items"])
        if item is None:
            return None
        tests.append(_items(item))
    return _all(tests)


def _object_test(schema: dict[str, Any]) -> tuple[bool, Test | None]:
    """(handled, the test of properties, required and additionalProperties, applied to objects only)."""
    props = schema.get("properties", {})
    required = schema.get("required", [])
    extra = schema.get("additionalProperties", True)
    if not isinstance(props, dict) or not isinstance(required, list) or not isinstance(extra, (bool, dict)):
        return False, None
    prop_tests = {k: quick_test(v) for k, v in props.items()}
    extra_test = quick_test(extra) if isinstance(extra, dict) else None
    if any(t is None for t in prop_tests.values()) or (isinstance(extra, dict) and extra_test is None):
        return False, None
    if not props and not required and extra is True:
        return True, None

    def test(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        if any(k not in v for k in required):
            return False
        for k, x in v.items():
            t = prop_tests.get(k)
            if t is not None:
                if not t(x):
                    return False
            elif extra is False or (extra_test is not None and not extra_test(x)):
                return False
        return True

    return True, test
