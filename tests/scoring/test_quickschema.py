"""The quick validity test agrees with jsonschema on every schema it handles (property test)."""

from __future__ import annotations

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from promptloop.scoring.assertions.quickschema import quick_test

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(-5, 5, allow_nan=False),
                    st.sampled_from(["a", "b", "", "Paris"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(st.sampled_from(["a", "b", "c"]), inner,
                                                                        max_size=3)), max_leaves=8)
types = st.sampled_from(["string", "number", "integer", "boolean", "object", "array", "null"])


def schemas(depth: int = 2) -> st.SearchStrategy:
    base = st.fixed_dictionaries({}, optional={"type": st.one_of(types, st.lists(types, min_size=1, max_size=2)),
                                               "enum": st.lists(scalars, min_size=1, max_size=3),
                                               "const": scalars, "description": st.just("d")})
    if depth == 0:
        return base
    inner = schemas(depth - 1)
    return st.one_of(base, st.fixed_dictionaries({"type": st.just("object")}, optional={
        "properties": st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
        "required": st.lists(st.sampled_from(["a", "b", "c"]), max_size=2, unique=True),
        "additionalProperties": st.one_of(st.booleans(), inner)}),
        st.fixed_dictionaries({"type": st.just("array")}, optional={"items": inner}))


@settings(max_examples=600, deadline=None)
@given(schemas(), values)
def test_the_quick_test_agrees_with_jsonschema(schema, value):
    quick = quick_test(schema)
    assert quick is not None  # every schema drawn here is one it handles
    assert quick(value) == jsonschema.validators.validator_for(schema)(schema).is_valid(value), (schema, value)


def test_schemas_beyond_it_get_no_quick_test():
    assert quick_test({"type": "string", "pattern": "^a"}) is None
    assert quick_test({"type": "object", "properties": {"a": {"type": "integer", "minimum": 0}}}) is None
    assert quick_test({"oneOf": [{"type": "string"}]}) is None
