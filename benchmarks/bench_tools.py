"""Tool calls: what a tool-calling eval costs the client, and what optimize does for the embedded model on BFCL.

Prints:
- client CPU per call of a tool-calling eval (tools sent, calls parsed, arguments checked against the tool's
  schema) and of three text evals (plain, plain with as large a request, structured: the same answer as JSON
  checked the same way), 1,000 cases at concurrency 32 against a local server, in the run (the four taking
  turns, compared round by round) and for a whole `promptloop eval` process (start-up included);
- with --bfcl: the embedded model on the BFCL slice (prompts/bfcl.yaml): baseline on the test set
  (golden/bfcl_test.yaml, never shown to the optimiser), optimize on golden/bfcl.yaml under a call budget,
  and the winner on the test set.

Usage: python benchmarks/bench_tools.py [--cases 1000] [--latency 0.05] [--rounds 11] [--bfcl] [--budget-calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TOOLS = """tools:
  - type: function
    function:
      name: get_weather
      description: The weather in a city.
      parameters:
        type: object
        properties: {city: {type: string}, unit: {type: string, enum: [celsius, fahrenheit]}}
        required: [city]
tool_choice: required
"""


STRUCTURED = """output:
  schema:
    type: object
    properties: {city: {type: string}, unit: {type: string, enum: [celsius, fahrenheit]}}
    required: [city]
assertions:
  - type: json_schema
  - type: fields
"""
ANSWER = '{"city": "Paris", "unit": "celsius"}'  # the structured text answer: the tool call's arguments


def write_repo(root: Path, api_base: str, cases: int, kind: str) -> None:
    """A repo for one of ``KINDS``: "padded" text carries a system message as long as the tools' JSON, so both
    requests are the same size on the wire; "structured" text answers the call's arguments as JSON, checked
    against the same schema and values as the call."""
    (root / "prompts").mkdir(parents=True)
    (root / "golden").mkdir()
    (root / "promptloop.yaml").write_text(f"models:\n  task: {{name: openai/bench-model, api_base: '{api_base}'}}\n"
                                          "concurrency: 32\ntimeout: 30\nretries: 2\n")
    pad = f"  - role: system\n    content: {json.dumps(json.dumps(TOOLS))}\n" if kind == "padded" else ""
    prompt = f"inputs: [text]\nmessages:\n{pad}  - role: user\n    content: 'Weather: {{{{text}}}}'\ngolden: bench\n"
    if kind == "tools":
        expected = "{tool_calls: [{name: get_weather, arguments: {city: Paris, unit: {one_of: [celsius]}}}]}"
        (root / "prompts" / "bench.yaml").write_text(prompt + TOOLS)
    elif kind == "structured":
        expected = "{city: Paris, unit: celsius}"
        (root / "prompts" / "bench.yaml").write_text(prompt + STRUCTURED)
    else:
        expected = "ok"
        (root / "prompts" / "bench.yaml").write_text(prompt + "assertions:\n  - type: equals\n    value: ok\n")
    lines = ["cases:"] + [f"  - {{id: c{i}, inputs: {{text: 'case {i}'}}, expected: {expected}}}" for i in range(cases)]
    (root / "golden" / "bench.yaml").write_text("\n".join(lines) + "\n")


@contextlib.contextmanager
def bench_repo(cases: int, latency: float, kind: str) -> Iterator[Path]:
    """A prompt repo of ``cases`` cases pointed at a local server answering in text or with one tool call."""
    answer = ["--tool-call"] if kind == "tools" else ["--answer", ANSWER] if kind == "structured" else []
    server = subprocess.Popen([sys.executable, "-m", "promptloop.testing", "--latency", str(latency), *answer],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = json.loads(server.stdout.readline())["port"]  # type: ignore[union-attr]
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_repo(root, f"http://127.0.0.1:{port}/v1", cases, kind)
            yield root
    finally:
        server.terminate()
        server.wait()


def client_cost(cases: int, latency: float, kind: str) -> tuple[float, float, int, int]:
    """(wall s, client CPU ms per call, calls, passed) of one whole eval process."""
    with bench_repo(cases, latency, kind) as root:
        env = {**os.environ, "OPENAI_API_KEY": "sk-bench", "PROMPTLOOP_CACHE_HOME": str(root / "home")}
        subprocess.run([sys.executable, "-m", "promptloop", "validate"], cwd=root, env=env, check=True,
                       stdout=subprocess.DEVNULL)  # validation remembered, as on any later run
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "promptloop", "eval", "bench", "--json", "--no-cache"],
                             cwd=root, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        data = json.loads(out.stdout)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu * 1000 / max(data["calls"], 1), data["calls"], data["passed"]


# label -> kind of repo (write_repo): the three text evals are what the tool-calling one is measured against.
KINDS = {"text": "text", "text, request as large as the tool one": "padded",
         "structured text, the call's arguments as JSON checked the same way": "structured",
         "tool-calling": "tools"}


def run_costs(cases: int, latency: float, rounds: int) -> dict[str, tuple[list[float], int]]:
    """Per kind of eval, (client CPU ms per call of each round, passed) of the eval run alone, in this process: the
    prompt and golden set loaded first (a tool-calling golden set is bigger YAML: that is start-up, not per-call work).
    The kinds take turns, round after round: the machine's other work drifts over a run, and turns keep that
    drift from favouring one kind (and let rounds be compared pairwise)."""
    from promptloop.model.client import LM
    from promptloop.repo.config import load_config
    from promptloop.scoring.eval_run import evaluate_prompt, load_task

    os.environ["OPENAI_API_KEY"] = "sk-bench"
    with contextlib.ExitStack() as stack:
        tasks = {}
        for label, kind in KINDS.items():
            root = stack.enter_context(bench_repo(cases, latency, kind))
            config = load_config(root)
            tasks[label] = (config, *load_task(config, "bench"))

        async def go() -> dict[str, tuple[list[float], int]]:
            seen: dict[str, list[float]] = {label: [] for label in KINDS}
            passed: dict[str, int] = {}
            async with LM(concurrency=32, timeout=30, retries=2) as lm:
                for config, prompt, golden in tasks.values():
                    await evaluate_prompt(config, prompt, golden, client=lm)  # warm: imports, connections
                for _ in range(rounds):
                    for label, (config, prompt, golden) in tasks.items():
                        start = time.process_time()
                        report = await evaluate_prompt(config, prompt, golden, client=lm)
                        seen[label].append((time.process_time() - start) * 1000 / report.calls)
                        passed[label] = report.summary.passed
            return {label: (ms, passed[label]) for label, ms in seen.items()}

        return asyncio.run(go())


def bfcl(budget: int) -> None:
    from promptloop.flows.optimize import optimize_prompt
    from promptloop.model.client import open_client
    from promptloop.optimize.outcome import Options
    from promptloop.repo.config import load_config
    from promptloop.scoring.eval_run import evaluate_prompt, load_task

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copy(ROOT / "promptloop.yaml", root)
        shutil.copytree(ROOT / "prompts", root / "prompts")
        shutil.copytree(ROOT / "golden", root / "golden")
        config = load_config(root)
        prompt, test = load_task(config, "bfcl", "bfcl_test")
        options = Options.from_config(config, calls=budget, rounds=2, candidates=4, seed=0)

        async def go() -> None:
            async with open_client(config) as lm:
                base = await evaluate_prompt(config, prompt, test, client=lm)
            start = time.perf_counter()
            async with open_client(config, budget=options.budget()) as lm:
                report = await optimize_prompt(config, "bfcl", options, client=lm, commit=False)
            o = report.outcome
            print(f"[bfcl] optimize: {o.status} ({o.stop_reason}); golden pass rate {o.baseline_rate:.3f} -> "
                  f"{(o.winner.full_rate if o.winner else o.baseline_rate):.3f}; {o.usage.get('calls')} calls, "
                  f"{time.perf_counter() - start:.0f} s")
            best = prompt if o.winner is None else o.winner.candidate.prompt(prompt)
            async with open_client(config) as lm:
                opt = await evaluate_prompt(config, best, test, client=lm)
            for name, r in (("baseline", base), ("optimised", opt)):
                m = r.summary.metrics
                print(f"[bfcl] {name} on {r.summary.cases} test cases never shown to the optimiser: pass rate "
                      f"{m['pass_rate']:.3f}, tool selection {m['tool_selection_accuracy']:.3f}, argument F1 "
                      f"{m['tool_arg_f1']:.3f}, invalid calls {m['invalid_call_rate']:.3f}")

        asyncio.run(go())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--rounds", type=int, default=11, help="turns of the four in-process evals")
    ap.add_argument("--bfcl", action="store_true", help="also run the embedded model on the BFCL slice")
    ap.add_argument("--budget-calls", type=int, default=200)
    args = ap.parse_args()
    in_run = run_costs(args.cases, args.latency, args.rounds)
    tools = in_run["tool-calling"][0]
    for label, kind in KINDS.items():
        wall, per_call, calls, passed = client_cost(args.cases, args.latency, kind)
        ms = in_run[label][0]
        print(f"{label} eval: {calls} calls, {passed} passed, {wall:.2f} s; client CPU per call in the run: least "
              f"{min(ms):.3f} ms, median {statistics.median(ms):.3f} ms of {args.rounds} rounds (kinds taking turns); "
              f"{per_call:.2f} ms with the whole process (start-up, loading the golden set)")
        if kind != "tools":  # the same round's two figures, side by side: the drift of the machine cancels
            ratios = [t / m for t, m in zip(tools, ms, strict=True)]
            print(f"  tool-calling / this, round by round: median {statistics.median(ratios):.2f}x; the tool-calling "
                  f"eval cost less in {sum(r < 1 for r in ratios)} of {len(ratios)} rounds")
    if args.bfcl:
        bfcl(args.budget_calls)


if __name__ == "__main__":
    main()
