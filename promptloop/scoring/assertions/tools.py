"""The tool_call check: the right tools, called with the right arguments, and calls that are valid.

Expected calls are ``expected: {tool_calls: [{name, arguments}]}`` (or the assertion's ``value:``, the same
list); ``tool_calls: []`` expects that no tool is called. An argument's expected value is a plain value, or
``{one_of: [...]}`` (any of these), with ``optional: true`` when it may be left out. Parallel calls are
compared without regard to order. Strings compare after normalising case, spaces and punctuation; numbers
by value (1 equals 1.0).
"""

from __future__ import annotations

import functools
import itertools
import json
from typing import Any

from promptloop import codec
from promptloop.repo.prompts import Assertion, Case
from promptloop.scoring.assertions.base import (
    Aggregated,
    Context,
    Result,
    aggregator,
    evaluator,
    f1,
    normalise,
    ratio,
    short,
)
from promptloop.scoring.assertions.quickschema import quick_test

SPEC_KEYS = {"one_of", "optional"}


def expected_calls(a: Assertion, case: Case) -> list[dict[str, Any]] | None:
    """The calls the case expects, or None when it says nothing about calls."""
    if isinstance(a.value, list):
        return a.value
    if isinstance(case.expected, dict) and isinstance(case.expected.get("tool_calls"), list):
        return case.expected["tool_calls"]
    return None


def same(got: Any, want: Any) -> bool:
    if type(got) is type(want) and got == want:  # the usual right answer, without normalising
        return True
    if isinstance(want, bool) or isinstance(got, bool):
        return got is want or (isinstance(got, str) and normalise(got) == str(want).lower())
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return float(got) == float(want)
    if isinstance(want, (int, float)) and isinstance(got, str):
        try:
            return float(got) == float(want)
        except ValueError:
            return False
    if isinstance(want, dict) and isinstance(got, dict):
        return want.keys() == got.keys() and all(same(got[k], want[k]) for k in want)
    if isinstance(want, list) and isinstance(got, list):
        return len(want) == len(got) and all(same(g, w) for g, w in zip(got, want, strict=True))
    if isinstance(want, str) and isinstance(got, str):
        return normalise(got) == normalise(want)
    return bool(got == want)


def _spec(want: Any) -> tuple[list[Any] | tuple[Any, ...] | None, bool]:
    """(acceptable values or None for any, optional) of an expected argument."""
    if type(want) is dict and want and want.keys() <= SPEC_KEYS:
        values = want.get("one_of")
        return (list(values) if isinstance(values, list) else None), bool(want.get("optional"))
    return (want,), False


def compare_arguments(got: dict[str, Any], want: dict[str, Any]) -> tuple[int, int, int, list[str]]:
    """(true positives, false positives, false negatives, what differs) over the arguments."""
    tp = fp = fn = 0
    wrong: list[str] = []
    for key, spec in want.items():
        values, optional = _spec(spec)
        if key not in got:
            if not optional:
                fn += 1
                wrong.append(f"{key} missing")
            continue
        value = got[key]
        if values is None:
            tp += 1
            continue
        for v in values:  # a loop, not any(genexpr): this runs for every argument of every call
            if same(value, v):
                tp += 1
                break
        else:
            fp, fn = fp + 1, fn + 1
            wrong.append(f"{key} {short(value, 30)} ≠ " + " or ".join(short(v, 30) for v in values))
    if len(got) > tp + fp:  # some argument was not expected
        extra = [k for k in got if k not in want]
        fp += len(extra)
        wrong += [f"unexpected argument {k}" for k in extra]
    return tp, fp, fn, wrong


_QUICK: dict[int, tuple[dict[str, Any], Any]] = {}  # id(schema) -> (schema, its quick test or None)


def _quick(params: dict[str, Any]) -> Any:
    """The quick validity test of a parameters schema, built once. Keyed by the schema object (a prompt's tools
    are read once), which is kept so its id is never reused."""
    found = _QUICK.get(id(params))
    if found is None or found[0] is not params:
        found = _QUICK[id(params)] = (params, quick_test(params))
    return found[1]


@functools.lru_cache(maxsize=64)
def _validator(schema: str) -> Any:
    """jsonschema's validator, for what the quick test cannot decide and for the reason a call is invalid."""
    import jsonschema

    params = json.loads(schema)
    return jsonschema.validators.validator_for(params)(params)


def invalid_reason(call: dict[str, Any], tools: dict[str, dict[str, Any]]) -> str | None:
    """Why a call cannot be run as made: an undeclared tool, arguments that are not a JSON object, or
    arguments that break the tool's parameters schema."""
    name, args = call.get("name"), call.get("arguments")
    if tools and name not in tools:
        return f"called undeclared tool {name!r} (declared: {', '.join(sorted(tools))})"
    if not isinstance(args, dict):
        return f"{name}'s arguments are not a JSON object: {short(args, 60)!r}"
    params = (tools.get(str(name)) or {}).get("parameters")
    if params:
        quick = _quick(params)
        if quick is not None and quick(args):  # the common case, without jsonschema (not even imported)
            return None
        import jsonschema

        validator = _validator(json.dumps(params, sort_keys=True))
        error = jsonschema.exceptions.best_match(validator.iter_errors(args))
        if error is not None:
            where = "/".join(map(str, error.absolute_path))
            return f"{name}'s arguments do not match its parameters{' at ' + where if where else ''}: {error.message}"
    return None


def _args(call: dict[str, Any]) -> dict[str, Any]:
    args = call.get("arguments")
    return args if isinstance(args, dict) else {}


def _quality(g: dict[str, Any], w: dict[str, Any]) -> int:
    """How well a call answers an expected call: the name first, then the fewest wrong arguments."""
    if g.get("name") != w.get("name"):
        return 0
    tp, fp, fn, _ = compare_arguments(_args(g), w.get("arguments") or {})
    return 1000 - 10 * (fp + fn) + tp


def _pairing(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(call, expected call) pairs: the order-free pairing with the most right names and arguments."""
    if len(got) == 1 and len(want) == 1:  # the common case: nothing to choose
        return [(0, 0)]
    if len(got) <= 6 and len(want) <= 6:  # exhaustive: parallel calls are few
        if len(got) >= len(want):
            options = [list(zip(gs, range(len(want)), strict=True))
                       for gs in itertools.permutations(range(len(got)), len(want))]
        else:
            options = [list(zip(range(len(got)), ws, strict=True))
                       for ws in itertools.permutations(range(len(want)), len(got))]
        return max(options, key=lambda p: sum(_quality(got[g], want[w]) for g, w in p), default=[])
    free, out = set(range(len(got))), []
    for w in range(len(want)):  # greedy beyond that
        best = max(free, key=lambda g: _quality(got[g], want[w]), default=None)
        if best is not None:
            free.discard(best)
            out.append((best, w))
    return out


_BY_NAME: dict[int, tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]] = {}


def _by_name(tools: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The declared tools by name, built once per tools list (kept, so its id is never reused)."""
    found = _BY_NAME.get(id(tools))
    if found is None or found[0] is not tools:
        found = _BY_NAME[id(tools)] = (tools, {t["function"]["name"]: t["function"] for t in tools})
    return found[1]


@evaluator("tool_call")
def tool_call(output: str, a: Assertion, case: Case, ctx: Context) -> Result:
    want = expected_calls(a, case)
    got = ctx.tool_calls
    if want is not None and len(got) == 1 == len(want):
        right = _one_right_call(got[0], want[0], ctx.tools)
        if right is not None:
            return right
    extra: dict[str, Any] = {"expected_tools": [str(w.get("name")) for w in want or []],
                             "called_tools": [str(g.get("name")) for g in got], "calls": len(got)}
    if want is None:
        return Result("tool_call", False, 0.0, "no expected tool calls: give the case `expected: {tool_calls: "
                                               "[...]}` (or [] for no call)", extra=extra)
    tools = _by_name(ctx.tools)
    invalid = [why for g in got if (why := invalid_reason(g, tools))]
    extra["invalid"] = len(invalid)
    extra["selection_ok"] = sorted(extra["expected_tools"]) == sorted(extra["called_tools"])
    if not want:
        extra |= {"arg_tp": 0, "arg_fp": 0, "arg_fn": 0}
        if got:
            return Result("tool_call", False, 0.0, f"called {', '.join(extra['called_tools'])} where no tool "
                                                   "call was wanted", extra=extra)
        return Result("tool_call", True, 1.0, "no tool called, as wanted", extra=extra)
    if not got:
        extra |= {"arg_tp": 0, "arg_fp": 0, "arg_fn": sum(len(w.get("arguments") or {}) for w in want)}
        said = f": {short(output.strip(), 60)!r}" if output.strip() else ""
        return Result("tool_call", False, 0.0, f"answered in text instead of calling "
                                               f"{', '.join(extra['expected_tools'])}{said}", extra=extra)
    return _compare(got, want, invalid, extra)


def _one_right_call(got: dict[str, Any], want: dict[str, Any], declared: list[dict[str, Any]]) -> Result | None:
    """The usual answer, one valid call exactly as the one expected: what ``_compare`` would say, without its
    bookkeeping (a table test holds the two equal); None for anything else."""
    tp = _exactly(got, want)
    if tp is None or invalid_reason(got, _by_name(declared)) is not None:
        return None
    name = str(want.get("name"))
    return Result("tool_call", True, 1.0, "right tools, right arguments", extra={
        "expected_tools": [name], "called_tools": [name], "calls": 1, "invalid": 0, "selection_ok": True,
        "arg_tp": tp, "arg_fp": 0, "arg_fn": 0, "per_tool": {name: [1, 1]}})


def _exactly(got: dict[str, Any], want: dict[str, Any]) -> int | None:
    """The arguments matched when a call is exactly as expected (same name; every argument present, or optional,
    and equal with the same type to an acceptable value; none more), else None: then ``_compare`` says how.
    Written as plain loops: it runs for every call of a tool-calling eval."""
    args, expected = got.get("arguments"), want.get("arguments") or {}
    if got.get("name") != want.get("name") or type(args) is not dict:
        return None
    tp = 0
    for key, spec in expected.items():
        if type(spec) is dict and spec and spec.keys() <= SPEC_KEYS:
            if key not in args:
                if spec.get("optional"):
                    continue
                return None
            values = spec.get("one_of")
            if isinstance(values, list):
                value = args[key]
                for v in values:
                    if type(v) is type(value) and v == value:
                        break
                else:
                    return None
        else:
            value = args.get(key, _ABSENT)
            if type(value) is not type(spec) or value != spec:
                return None
        tp += 1
    return tp if tp == len(args) else None


_ABSENT = object()


def _compare(got: list[dict[str, Any]], want: list[dict[str, Any]], invalid: list[str],
             extra: dict[str, Any]) -> Result:
    pairs = _pairing(got, want)
    tp = fp = fn = 0
    problems: list[str] = list(invalid)
    right = 0
    per_tool: dict[str, list[int]] = {}
    for g, w in pairs:
        name, wname = str(got[g].get("name")), str(want[w].get("name"))
        counts = per_tool.setdefault(wname, [0, 0])
        counts[0] += 1
        if name != wname:
            problems.append(f"called {name}, expected {wname}")
            fn += len(want[w].get("arguments") or {})
            continue
        t, p, n, wrong = compare_arguments(_args(got[g]), want[w].get("arguments") or {})
        tp, fp, fn = tp + t, fp + p, fn + n
        if wrong:
            problems.append(f"{name}: {'; '.join(wrong)}")
        else:
            right += 1
            counts[1] += 1
    paired_w = {w for _, w in pairs}
    for w in range(len(want)):
        if w not in paired_w:
            per_tool.setdefault(str(want[w].get("name")), [0, 0])[0] += 1
            fn += len(want[w].get("arguments") or {})
            problems.append(f"expected a call of {want[w].get('name')} that was not made")
    if len(got) > len(want):
        problems.append(f"{len(got) - len(want)} call(s) more than expected")
    extra |= {"arg_tp": tp, "arg_fp": fp, "arg_fn": fn, "per_tool": per_tool}
    ok = not problems
    score = right / max(len(got), len(want)) if not invalid else 0.0
    return Result("tool_call", ok, 1.0 if ok else score, "right tools, right arguments" if ok else
                  "; ".join(dict.fromkeys(problems)), extra=extra)


@aggregator("tool_call", lower_is_better=("invalid_call_rate",))
def tool_metrics(rows: list[Result]) -> Aggregated:
    """Tool selection accuracy, argument precision/recall/F1 (micro), the share of calls that were invalid,
    and per tool how many expected calls were made right."""
    tp = fp = fn = calls = invalid = selected = 0
    per_tool: dict[str, dict[str, int]] = {}
    for r in rows:  # one pass: it runs over every call of a run
        x = r.extra
        tp, fp, fn = tp + int(x.get("arg_tp", 0)), fp + int(x.get("arg_fp", 0)), fn + int(x.get("arg_fn", 0))
        calls, invalid = calls + int(x.get("calls", 0)), invalid + int(x.get("invalid", 0))
        selected += bool(x.get("selection_ok"))
        for name, (expected, right) in (x.get("per_tool") or {}).items():
            t = per_tool.setdefault(name, {"expected": 0, "right": 0})
            t["expected"] += expected
            t["right"] += right
    p, rc = ratio(tp, tp + fp, fn == 0), ratio(tp, tp + fn, fp == 0)
    return Aggregated({"tool_selection_accuracy": selected / len(rows),
                       "tool_arg_precision": p, "tool_arg_recall": rc, "tool_arg_f1": f1(p, rc),
                       "invalid_call_rate": invalid / calls if calls
                       else 0.0}, details={"tools": dict(sorted(per_tool.items()))})


def describe_calls(calls: list[dict[str, Any]]) -> str:
    """Tool calls as a person reads them: ``get_weather({"city": "Paris"})``."""
    def args(c: dict[str, Any]) -> str:
        raw = c.get("arguments")
        return raw if isinstance(raw, str) else codec.dumps(raw)

    return "; ".join(f"{c.get('name')}({args(c)})" for c in calls)
