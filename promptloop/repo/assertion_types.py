"""What each assertion type is, in one place: whether it gates (hard), whether it compares with the case's
``expected``, and what its ``value:`` must be. The prompt schema's type list, the validation of values,
the trace verdicts and the scoring registry all read these specs; the check itself is an
``@evaluator(name)`` in ``scoring/assertions/`` (a test keeps the two sets equal)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ValueCheck = Callable[[Any], str | None]  # the problem with a `value:` (None: fine)


def _any(value: Any) -> str | None:
    return None


def _text_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(x, (str, int, float, bool)) for x in value)


def _optional(check: Callable[[Any], bool], problem: str) -> ValueCheck:
    """A value that may be left out; when given, ``check`` must hold."""
    return lambda value: None if value is None or check(value) else problem


def _regex(value: Any) -> str | None:
    if not isinstance(value, str):
        return "regex needs `value:` holding a regular expression"
    try:
        re.compile(value)
    except re.error as e:
        return f"invalid regular expression: {e}"
    return None


def _max_length(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else "max_length needs `value:` holding a whole number of characters"


def _python(value: Any) -> str | None:
    ok = isinstance(value, str) and ":" in value
    return None if ok else "python needs `value: module:function`, a function in a .py file of the prompt repo"


def _strings(kind: str) -> ValueCheck:
    return _optional(lambda v: isinstance(v, str) or _text_list(v), f"{kind}'s `value:` is a string or a list of "
                                                                    "strings")


@dataclass(frozen=True)
class AssertionType:
    name: str
    hard: bool = True  # a case failing a hard assertion scores 0 whatever the soft ones say
    needs_expected: bool = False  # compares with the case's expected: cannot judge a trace without one
    value: ValueCheck = _any


TYPES: dict[str, AssertionType] = {t.name: t for t in (
    AssertionType("is_json"),
    AssertionType("json_schema"),
    AssertionType("equals", needs_expected=True),
    AssertionType("label", value=_optional(
        _text_list, "label's `value:` is the list of allowed labels, e.g. [positive, negative]")),
    AssertionType("contains", value=_strings("contains")),
    AssertionType("not_contains", value=_strings("not_contains")),
    AssertionType("regex", value=_regex),
    AssertionType("max_length", value=_max_length),
    AssertionType("fields", needs_expected=True, value=_optional(
        _text_list, "fields' `value:` is the list of field names to compare, e.g. [date, nights]")),
    AssertionType("numeric", needs_expected=True, value=_optional(
        lambda v: not isinstance(v, bool) and isinstance(v, (int, float, str)),
        "numeric's `value:` is the expected number (or leave it out to use the case's expected)")),
    AssertionType("llm_judge", hard=False, value=_optional(
        lambda v: isinstance(v, str), "llm_judge's `value:` is the rubric, as text")),
    AssertionType("python", hard=False, value=_python),
    AssertionType("tool_call", needs_expected=True, value=_optional(
        lambda v: isinstance(v, list) and all(isinstance(c, dict) and "name" in c for c in v),
        "tool_call's `value:` is the list of expected calls, [{name, arguments}] (or leave it out to use the "
        "case's expected tool_calls)")),
)}
