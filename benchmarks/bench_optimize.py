"""Optimizer benchmark on a real labelled dataset.

Splits TREC-6 (from ../shared/datasets by default) into train / validation / test itself. The
optimiser sees only the validation split as its golden set (its demonstrations come from there);
the test split is scored only twice, with the baseline prompt and with the optimised one.

Usage: python benchmarks/bench_optimize.py [--data PATH] [--model local/smollm2] [--val 40] [--test 60]
                                           [--budget-calls 150] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "datasets" / "trec6_test.jsonl")
    ap.add_argument("--model", default="local/smollm2")
    ap.add_argument("--val", type=int, default=40)
    ap.add_argument("--test", type=int, default=60)
    ap.add_argument("--budget-calls", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--candidates", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from promptloop.optimize.search import Options, optimize_prompt
    from promptloop.repo.config import load_config
    from promptloop.scoring.eval_run import evaluate_prompt, load_task, open_client

    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    rng = random.Random(args.seed)
    rng.shuffle(rows)
    test, val = rows[: args.test], rows[args.test: args.test + args.val]

    def golden(part: list[dict]) -> str:
        return yaml.safe_dump({"cases": [{"id": r["id"], "inputs": {"question": r["text"]}, "expected": r["label"]}
                                         for r in part]}, sort_keys=False)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "prompts").mkdir()
        (root / "golden").mkdir()
        cfg = (REPO / "promptloop.yaml").read_text().replace("local/smollm2", args.model)
        (root / "promptloop.yaml").write_text(cfg)
        shutil.copy(REPO / "prompts" / "trec.yaml", root / "prompts" / "trec.yaml")
        (root / "golden" / "trec.yaml").write_text(golden(val))
        (root / "golden" / "test.yaml").write_text(golden(test))
        (root / ".gitignore").write_text(".promptloop/\n")
        for cmd in (["init", "-q", "-b", "main"], ["add", "-A"],
                    ["-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "-m", "base"]):
            subprocess.run(["git", *cmd], cwd=root, check=True)
        config = load_config(root)
        options = Options.from_config(config, rounds=args.rounds, candidates=args.candidates,
                                      calls=args.budget_calls, seed=args.seed)
        prompt, test_set = load_task(config, "trec", "test")

        async def go() -> None:
            start = time.perf_counter()
            async with open_client(config) as lm:
                report = await optimize_prompt(config, "trec", options, client=lm, commit=False)
            spent = report.outcome.usage
            o = report.outcome
            print(f"optimize: {o.status} ({o.stop_reason}); validation pass rate {o.baseline_rate:.3f} -> "
                  f"{(o.winner.full_rate if o.winner else o.baseline_rate):.3f}; {spent.get('calls')} paid calls "
                  f"({spent.get('by_purpose')}), {time.perf_counter() - start:.0f} s")
            async with open_client(config) as lm:
                base = await evaluate_prompt(config, prompt, test_set, client=lm)
                best = prompt if o.winner is None else o.winner.candidate.prompt(prompt)
                opt = await evaluate_prompt(config, best, test_set, client=lm)
            acc_base, acc_opt = base.summary.metrics.get("accuracy", 0), opt.summary.metrics.get("accuracy", 0)
            print(f"test accuracy ({len(test)} cases, never seen while optimising): baseline {acc_base:.3f} -> "
                  f"optimised {acc_opt:.3f}")

        asyncio.run(go())


if __name__ == "__main__":
    main()
