"""Shipping an optimisation's winner: the rewritten prompt file, committed on a new branch."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tabulate import tabulate

from promptloop.git.commits import blob_id, branch_name, commit_on_branch, diff_stat, relpath
from promptloop.optimize.search import Outcome
from promptloop.repo.prompts import GoldenSet, Prompt
from promptloop.repo.rewrite import replace_messages


@dataclass
class Shipped:
    branch: str
    commit: str
    diff_stat: str
    push: str
    message: str


def golden_hash(golden: GoldenSet) -> str:
    return "sha256:" + hashlib.sha256(golden.path.read_bytes()).hexdigest()[:16]


def commit_message(outcome: Outcome, prompt: Prompt, golden: GoldenSet, *, baseline: str | None,
                   models: dict[str, str], seed: int, run_id: str) -> str:
    assert outcome.winner is not None
    w = outcome.winner
    base_m, win_m = outcome.baseline_metrics, outcome.winner_metrics
    names = [k for k in base_m if k in win_m]
    table = tabulate([(k, f"{base_m[k]:.3f}", f"{win_m[k]:.3f}") for k in names],
                     headers=["metric", "baseline", "winner"], tablefmt="github")
    u = outcome.usage
    regressed = w.paired.regressed if w.paired else []
    fixed = w.paired.fixed if w.paired else []
    summary = (f"promptloop: improve {prompt.name} (pass rate {outcome.baseline_rate:.2f} -> "
               f"{w.full_rate or 0:.2f})")
    body = [
        summary, "", table, "",
        f"Failures fixed: {len(w.fixed_failures)} of the held-out failures; on the golden set "
        f"{len(fixed)} case(s) fixed, {len(regressed)} regressed"
        + (f" ({', '.join(regressed)})" if regressed else "") + ".",
        f"Candidate: {w.candidate.origin}: {w.candidate.rationale}"
        + (f" (its {len(w.candidate.demos)} demonstration case(s) are left out of both columns)"
           if w.candidate.demos else "") + ".",
        f"Budget spent: {u.get('calls', 0)} calls ({u.get('cached', 0)} cached), {u.get('tokens', 0)} tokens, "
        f"${u.get('cost_usd', 0.0):.4f}.",
        "",
        f"Promptloop-Prompt: {prompt.name}",
        f"Promptloop-Baseline: {baseline or 'unknown'}",
        f"Promptloop-Golden-Hash: {golden_hash(golden)}",
        f"Promptloop-Task-Model: {models['task']}",
        f"Promptloop-Proposer-Model: {models['proposer']}",
        f"Promptloop-Seed: {seed}",
        f"Promptloop-Cost-USD: {u.get('cost_usd', 0.0):.6f}",
        f"Promptloop-Pass-Rate: {w.full_rate or 0:.4f}",
        f"Promptloop-Baseline-Pass-Rate: {outcome.baseline_rate:.4f}",
        f"Promptloop-Run: {run_id}",
    ]
    return "\n".join(body) + "\n"


def ship(repo: Any, outcome: Outcome, prompt: Prompt, golden: GoldenSet, *, prefix: str, models: dict[str, str],
         seed: int, run_id: str, now: datetime | None = None) -> Shipped:
    assert outcome.winner is not None
    rel = relpath(repo, prompt.path)
    original = prompt.path.read_text(encoding="utf-8")
    new_text = replace_messages(original, outcome.winner.candidate.messages)
    message = commit_message(outcome, prompt, golden, baseline=blob_id(repo, "HEAD", rel), models=models,
                             seed=seed, run_id=run_id)
    branch = branch_name(prefix, prompt.name, now)
    sha = commit_on_branch(repo, {rel: new_text}, branch, message)
    return Shipped(branch=branch, commit=sha, diff_stat=diff_stat(repo, branch),
                   push=f"git push -u origin {branch}", message=message)
