"""Sharded evaluation: 10,000 cases as one job vs N shards (run one after another here, as N CI jobs would
run side by side) merged with `promptloop merge`, against a local fake server. Checks that the merged
report equals the unsharded one case for case, and prints the wall times.

Usage: python benchmarks/bench_shards.py [--cases 10000] [--shards 4] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_eval import write_repo


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.05)
    args = ap.parse_args()
    server = subprocess.Popen([sys.executable, "-m", "promptloop.testing", "--latency", str(args.latency)],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = json.loads(server.stdout.readline())["port"]  # type: ignore[union-attr]
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_repo(root, f"http://127.0.0.1:{port}/v1", args.cases, args.concurrency)
            env = {**os.environ, "OPENAI_API_KEY": "sk-bench"}
            exe = [sys.executable, "-m", "promptloop"]
            start = time.perf_counter()
            whole = subprocess.run([*exe, "eval", "bench", "--json", "--no-cache"], cwd=root, env=env,
                                   capture_output=True, text=True)
            one_job = time.perf_counter() - start
            paths, per_shard = [], []
            for i in range(1, args.shards + 1):
                start = time.perf_counter()
                out = subprocess.run([*exe, "eval", "bench", "--json", "--no-cache", "--shard", f"{i}/{args.shards}"],
                                     cwd=root, env=env, capture_output=True, text=True)
                per_shard.append(time.perf_counter() - start)
                paths.append(root / f"shard{i}.json")
                paths[-1].write_text(out.stdout)
            start = time.perf_counter()
            merged = subprocess.run([*exe, "merge", *map(str, paths), "--json"], cwd=root, env=env,
                                    capture_output=True, text=True)
            merge_s = time.perf_counter() - start
            a, b = json.loads(whole.stdout), json.loads(merged.stdout)
            key = lambda r: (r["id"], r["sample"])  # noqa: E731
            same_cases = sorted(map(key, a["results"])) == sorted(map(key, b["results"]))
            same = same_cases and a["metrics"] == b["metrics"] and a["passed"] == b["passed"]
            print(f"{args.cases} cases, latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency}")
            print(f"one job: {one_job:.2f} s")
            print(f"{args.shards} shards: slowest {max(per_shard):.2f} s each (side by side in CI), "
                  f"merge {merge_s:.2f} s -> {max(per_shard) + merge_s:.2f} s wall")
            print(f"merged report equals the unsharded one: {'yes' if same else 'NO'} "
                  f"({len(b['results'])} results, pass rate {b['metrics']['pass_rate']:.3f})")
            if not same:
                sys.exit(1)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
