"""Throughput and start-up benchmark for promptloop eval.

Prints: the wall time of 1,000 cases at concurrency 32 against a local fake OpenAI-compatible
server with 200 ms latency, as a ratio to the ideal (1000 * 0.2 / 32 = 6.25 s); the same run
through litellm's own client for comparison; the fully cached rerun (0 calls) through the CLI;
and the wall time of `promptloop --help` and `promptloop validate`.

Usage: python benchmarks/bench_eval.py [--cases 1000] [--concurrency 32] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_repo(root: Path, api_base: str, cases: int, concurrency: int) -> None:
    (root / "prompts").mkdir(parents=True)
    (root / "golden").mkdir()
    (root / "promptloop.yaml").write_text(
        f"models:\n  task: {{name: openai/bench-model, api_base: '{api_base}'}}\n"
        f"concurrency: {concurrency}\ntimeout: 30\nretries: 2\n")
    (root / "prompts" / "bench.yaml").write_text(
        "inputs: [text]\nmessages:\n  - role: user\n    content: 'Say ok: {{text}}'\n"
        "assertions:\n  - type: equals\n    value: ok\ngolden: bench\n")
    lines = ["cases:"] + [f"  - {{id: c{i}, inputs: {{text: 'case {i}'}}}}" for i in range(cases)]
    (root / "golden" / "bench.yaml").write_text("\n".join(lines) + "\n")


def timed(cmd: list[str], cwd: Path, env: dict[str, str], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        best = min(best, time.perf_counter() - start)
    return best


def in_process(root: Path, *, fast: bool) -> tuple[float, int, int]:
    from promptloop.model import client as lm
    from promptloop.model import routes
    from promptloop.repo.config import load_config
    from promptloop.scoring.eval_run import evaluate_prompt, load_task

    if fast:
        os.environ.pop("PROMPTLOOP_NO_FAST_PATH", None)
    else:
        os.environ["PROMPTLOOP_NO_FAST_PATH"] = "1"
    routes.litellm_module()  # import cost is reported separately
    config = load_config(root)
    prompt, golden = load_task(config, "bench")

    async def go() -> tuple[float, int, int]:
        async with lm.LM(concurrency=config.concurrency, timeout=30, retries=2,
                         cache_path=root / f".promptloop/cache-{fast}.sqlite") as client:
            start = time.perf_counter()
            report = await evaluate_prompt(config, prompt, golden, client=client)
            return time.perf_counter() - start, report.summary.passed, report.calls

    return asyncio.run(go())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--skip-litellm", action="store_true", help="skip the litellm.acompletion comparison")
    args = ap.parse_args()
    ideal = args.cases * args.latency / args.concurrency

    server = subprocess.Popen([sys.executable, "-m", "promptloop.testing", "--latency", str(args.latency)],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = json.loads(server.stdout.readline())["port"]  # type: ignore[union-attr]
        api_base = f"http://127.0.0.1:{port}/v1"
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_repo(root, api_base, args.cases, args.concurrency)
            env = {**os.environ, "OPENAI_API_KEY": "sk-bench"}
            os.environ["OPENAI_API_KEY"] = "sk-bench"
            exe = [sys.executable, "-m", "promptloop"]

            # The whole process, as a user runs it: start-up, no cache, every call over the network. First
            # with files never validated before, then as on any later run (their validation remembered).
            import resource

            env["PROMPTLOOP_CACHE_HOME"] = str(root / "user-cache")
            for when in ("first run of these files", "later runs"):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                out = subprocess.run([*exe, "eval", "bench", "--json", "--no-cache"], cwd=root, env=env,
                                     capture_output=True, text=True)
                whole = time.perf_counter() - start
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                n_calls = json.loads(out.stdout)["calls"]
                print(f"whole process (promptloop eval --no-cache, {n_calls} calls, {when}): {whole:.2f} s = "
                      f"{whole / ideal:.3f}x ideal [target <= 1.10x]; client CPU "
                      f"{cpu * 1000 / max(n_calls, 1):.2f} ms per call, start-up included [target <= 1 ms]")

            start = time.perf_counter()
            from promptloop.model import routes

            routes.litellm_module()
            import_s = time.perf_counter() - start
            wall, passed, calls = in_process(root, fast=True)
            print(f"eval {args.cases} cases @ concurrency {args.concurrency}, {args.latency * 1000:.0f} ms latency: "
                  f"{wall:.2f} s = {wall / ideal:.2f}x ideal ({ideal:.2f} s); {calls} calls, {passed} passed "
                  f"[target <= 1.25x]")
            if not args.skip_litellm:
                wall2, _, calls2 = in_process(root, fast=False)
                print(f"  same through litellm.acompletion: {wall2:.2f} s = {wall2 / ideal:.2f}x ideal "
                      f"({calls2} calls)")
            print(f"  import litellm (never on the OpenAI-compatible path; paid by other providers): {import_s:.2f} s")

            # The CLI's first run fills the CLI cache; the second is the fully cached rerun.
            subprocess.run([*exe, "eval", "bench", "--json"], cwd=root, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
            cached = timed([*exe, "eval", "bench", "--json"], cwd=root, env=env)
            out = subprocess.run([*exe, "eval", "bench", "--json"], cwd=root, env=env, capture_output=True, text=True)
            rerun_calls = json.loads(out.stdout)["calls"]
            print(f"cached rerun via CLI ({args.cases} cases, {rerun_calls} calls): {cached:.2f} s [target < 2 s]")
            print(f"promptloop --help: {timed([*exe, '--help'], cwd=root, env=env):.2f} s [target < 0.5 s]")
            print(f"promptloop validate: {timed([*exe, 'validate'], cwd=root, env=env):.2f} s")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
