"""Build prompts/bfcl.yaml and golden/bfcl*.yaml from two BFCL v4 categories (simple_python, multiple).

    python examples/bfcl/make_golden.py PATH/TO/bfcl_eval/data [REPO]

BFCL gives each question its own tools; a promptloop prompt declares one tool set. So the prompt declares 36 of
the functions that are a right answer (chosen by a hash of the name, each in the parameters schema most of
its questions use), and the cases are the questions they answer: the model must pick among all 36. BFCL's
parameter types become JSON Schema (dict -> object, float -> number, tuple -> array, any -> no type); an
acceptable value "" means the argument may be left out. Cases are split by a stable hash: most for the golden set optimize works on, the rest for a test set it
never sees.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

TOOLS = 36  # how many functions the prompt declares (their descriptions fit the embedded model's context)
TYPES = {"dict": "object", "float": "number", "tuple": "array", "integer": "integer", "string": "string",
         "boolean": "boolean", "array": "array"}
SOURCE = ("BFCL v4 (Berkeley Function Calling Leaderboard), categories simple_python and multiple: "
          "github.com/ShishirPatil/gorilla berkeley-function-call-leaderboard/bfcl_eval/data @ 6ea57973, "
          "Apache-2.0. Questions and answers unchanged; parameter types mapped to JSON Schema.")


def schema(node: Any) -> Any:
    """BFCL's parameters as JSON Schema."""
    if isinstance(node, dict):
        out = {k: schema(v) for k, v in node.items() if k not in ("optional",)}
        if "type" in out:
            if out["type"] == "any":
                del out["type"]
            else:
                out["type"] = TYPES.get(out["type"], out["type"])
        return out
    if isinstance(node, list):
        return [schema(v) for v in node]
    return node


def argument(values: list[Any]) -> Any:
    present = [v for v in values if v != ""]
    optional = len(present) < len(values)
    if len(present) == 1 and not optional:
        return present[0]
    spec: dict[str, Any] = {"one_of": present} if present else {}
    if optional:
        spec["optional"] = True
    return spec


def main(data: Path, repo: Path) -> None:
    rows = []
    for cat in ("simple_python", "multiple"):
        questions = {q["id"]: q for q in map(json.loads, (data / f"BFCL_v4_{cat}.json").read_text().splitlines())}
        for a in map(json.loads, (data / f"BFCL_v4_{cat}.answer.json").read_text().splitlines()):
            q = questions[a["id"]]
            name, args = next(iter(a["ground_truth"][0].items()))
            fn = next(f for f in q["function"] if f["name"] == name)
            rows.append((a["id"], q["question"][0][-1]["content"], fn, args))
    versions: dict[str, Counter[str]] = defaultdict(Counter)
    for _, _, fn, _ in rows:
        versions[fn["name"]][json.dumps(fn, sort_keys=True)] += 1
    # A stable choice of functions (by a hash of the name), each in the schema most of its questions use.
    names = sorted(versions, key=lambda n: hashlib.sha256(n.encode()).hexdigest())[:TOOLS]
    chosen = {name: json.loads(versions[name].most_common(1)[0][0]) for name in sorted(names)}
    cases = [(i, text, fn, args) for i, text, fn, args in rows if fn["name"] in chosen
             and json.dumps(fn, sort_keys=True) == json.dumps(chosen[fn["name"]], sort_keys=True)]
    tools = [{"type": "function", "function": {"name": f["name"], "description": f["description"],
                                               "parameters": schema(f["parameters"])}} for f in chosen.values()]
    def case(i: str, text: str, fn: dict[str, Any], args: dict[str, list[Any]]) -> dict[str, Any]:
        return {"id": i, "inputs": {"request": text},
                "expected": {"tool_calls": [{"name": fn["name"],
                                             "arguments": {k: argument(v) for k, v in args.items()}}]}}
    test = [c for c in cases if int(hashlib.sha256(c[0].encode()).hexdigest(), 16) % 3 == 0]
    golden = [c for c in cases if c not in test]
    header = f"# {SOURCE}\n# Built by examples/bfcl/make_golden.py.\n"
    for name, part in (("bfcl", golden), ("bfcl_test", test)):
        doc = {"description": f"BFCL function calling: {len(part)} questions, {len(tools)} tools",
               "source": SOURCE, "cases": [case(*c) for c in part]}
        (repo / "golden" / f"{name}.yaml").write_text(header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True,
                                                                              width=110))
    prompt = {"description": "Answer a request by calling the one right function with the right arguments.",
              "model": {"temperature": 0, "seed": 1, "max_tokens": 200},
              "inputs": ["request"],
              "messages": [{"role": "system", "content": "You answer each request by calling exactly one of the "
                                                         "functions, with the arguments the request gives.\n"},
                           {"role": "user", "content": "{{request}}"}],
              "tools": tools, "tool_choice": "required", "golden": "bfcl"}
    (repo / "prompts" / "bfcl.yaml").write_text(header + yaml.safe_dump(prompt, sort_keys=False, allow_unicode=True,
                                                                         width=110))
    print(f"{len(tools)} tools, {len(golden)} golden cases, {len(test)} test cases")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else Path("."))
