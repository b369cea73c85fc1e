"""Import throughput and memory on a generated promptloop JSONL file.

Prints the import's throughput against a bare parse loop over the same file (target: within 3x)
and the import's peak memory (target: under 300 MB).

With --source FILE, the file is a real export (JSONL) repeated with its ids made unique, instead of
generated promptloop traces: e.g. tests/fixtures/traces/openinference/openinference_spans.jsonl.

Usage: python benchmarks/bench_import.py [--mb 1024] [--source FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import sys, time, resource, json
from pathlib import Path
from promptloop.repo.config import load_config
from promptloop.flows.ingest import import_files
start = time.perf_counter()
s = import_files(load_config(Path(sys.argv[1])), [Path(sys.argv[2])])
wall = time.perf_counter() - start
print(json.dumps({"wall": wall, "imported": s.imported, "skipped": s.skipped,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""

QUESTIONS = ["How far is it from Denver to Aspen ?", "What county is Modesto , California in ?",
             "Who was Galileo ?", "What is an atom ?", "When did Hawaii become a state ?"]
LABELS = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]


def generate(path: Path, megabytes: int, root: Path) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from promptloop.repo.config import load_config
    from promptloop.repo.prompts import load_prompt

    prompt = load_prompt(load_config(root), "trec")
    rng = random.Random(1)
    target = megabytes * 1024 * 1024
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        written = 0
        while written < target:
            q = rng.choice(QUESTIONS) + f" (variant {n})"
            rec = {"promptloop_trace": 1, "id": f"t{n}", "time": f"2026-01-{1 + n % 28:02d}T10:{n % 60:02d}:00Z",
                   "prompt": "trec", "model": "gpt-4o-mini", "parameters": {"temperature": 0},
                   "messages": prompt.render({"question": q}), "output": rng.choice([*LABELS, "I am not sure"]),
                   "latency_ms": rng.uniform(100, 900), "tokens": {"input": 120, "output": 2},
                   "cost_usd": 0.00002, "user_id": f"u{rng.randrange(5000)}", "session_id": f"s{n // 3}",
                   "feedback": [{"kind": "thumbs", "value": rng.random() > 0.2}] if n % 4 == 0 else [],
                   "metadata": {"app": "bench", "notes": "x" * rng.randrange(50, 400)}}
            line = json.dumps(rec) + "\n"
            fh.write(line)
            written += len(line)
            n += 1
    return n


ID_KEYS = {"id", "trace_id", "span_id", "parent_id", "traceId", "spanId", "parentSpanId", "run_id", "custom_id"}


def unique_ids(value: object, n: int) -> object:
    if isinstance(value, dict):
        return {k: f"{v}-{n}" if k in ID_KEYS and isinstance(v, str) else unique_ids(v, n) for k, v in value.items()}
    if isinstance(value, list):
        return [unique_ids(v, n) for v in value]
    return value


def repeat_source(path: Path, source: Path, megabytes: int) -> int:
    records = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    target = megabytes * 1024 * 1024
    n = written = 0
    with open(path, "w", encoding="utf-8") as fh:
        while written < target:
            line = json.dumps(unique_ids(records[n % len(records)], n), ensure_ascii=False) + "\n"
            fh.write(line)
            written += len(line.encode())
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=1024)
    ap.add_argument("--source", type=Path, help="a real JSONL export to repeat instead of generated traces")
    args = ap.parse_args()
    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        for name in ("promptloop.yaml",):
            (root / name).write_text((repo / name).read_text())
        (root / "prompts").mkdir()
        (root / "prompts" / "trec.yaml").write_text((repo / "prompts" / "trec.yaml").read_text())
        (root / "golden").mkdir()
        (root / "golden" / "trec.yaml").write_text((repo / "golden" / "trec.yaml").read_text())
        data = Path(tmp) / "traces.jsonl"
        t0 = time.perf_counter()
        n = repeat_source(data, args.source, args.mb) if args.source else generate(data, args.mb, root)
        size = data.stat().st_size / 1024 / 1024
        print(f"generated {n} traces, {size:.0f} MB in {time.perf_counter() - t0:.1f} s")

        t0 = time.perf_counter()
        with open(data, encoding="utf-8") as fh:
            for line in fh:
                json.loads(line)
        bare = time.perf_counter() - t0
        print(f"bare parse loop: {bare:.1f} s ({size / bare:.0f} MB/s)")

        out = subprocess.run([sys.executable, "-c", CHILD, str(root), str(data)], capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(repo)})
        if out.returncode != 0:
            print(out.stderr)
            raise SystemExit(1)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"promptloop import: {r['wall']:.1f} s ({size / r['wall']:.0f} MB/s), {r['imported']} traces = "
              f"{r['wall'] / bare:.2f}x the bare loop [target <= 3x]; peak memory {r['peak_mb']:.0f} MB in the "
              f"importer + at most {r['worker_peak_mb']:.0f} MB per parsing worker [target < 300 MB]")


if __name__ == "__main__":
    main()
