"""Publishing an optimisation's winner: the rewritten prompt file, committed on a new branch.

Takes a plain :class:`Winner` record, so committing knows nothing of the search that produced it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tabulate import tabulate

from promptloop.errors import ConfigError
from promptloop.git.commits import blob_id, branch_name, commit_on_free_branch, diff_stat, relpath
from promptloop.optimize.tooling import tools_change
from promptloop.repo.prompts import GoldenSet, Prompt, prompt_from_text
from promptloop.repo.rewrite import replace_messages, set_mapping, set_output, set_tool_descriptions
from promptloop.repo.tools import tools_file


@dataclass
class Winner:
    """What a commit says about the winning candidate, as plain data."""

    messages: list[dict[str, str]]
    output: dict[str, Any] | None
    origin: str
    rationale: str
    demos: int
    baseline_rate: float
    rate: float
    baseline_metrics: dict[str, Any]
    metrics: dict[str, Any]
    heldout_fixed: int
    fixed: list[str]
    regressed: list[str]
    usage: dict[str, Any]
    test_rates: tuple[float, float] | None = None
    cases: int = 0  # the cases both rates are over (the winner's own demonstrations left out)
    tools: list[dict[str, Any]] | None = None  # tools with rewritten descriptions (names and parameters as before)
    model: dict[str, Any] | None = None  # a new `model:` setting (a migration commits the switch with the prompt)
    notes: list[str] = field(default_factory=list)  # more lines for the commit message (a migration's table)
    test_evidence: dict[str, Any] | None = None  # the held-out test part's figures and verdict


@dataclass
class Shipped:
    branch: str
    commit: str
    diff_stat: str
    push: str
    message: str


def golden_hash(golden: GoldenSet) -> str:
    return "sha256:" + hashlib.sha256(golden.path.read_bytes()).hexdigest()[:16]


def described_anew(prompt: Prompt, tools: list[dict[str, Any]] | None) -> dict[str, str]:
    """The tools whose description ``tools`` changes, with the new description."""
    old = {t["function"]["name"]: t["function"].get("description") for t in prompt.tools}
    return {t["function"]["name"]: t["function"]["description"] for t in tools or []
            if t["function"].get("description") != old.get(t["function"]["name"])}


def held_out_line(ev: dict[str, Any]) -> str:
    (b0, b1), (w0, w1) = ev["baseline_interval"], ev["winner_interval"]
    return (f"Held-out test part (never used to choose, {ev['cases']} cases): pass rate {ev['baseline']:.2f} "
            f"[{b0:.2f}, {b1:.2f}] -> {ev['winner']:.2f} [{w0:.2f}, {w1:.2f}] (95% intervals); {ev['verdict']}.")


def commit_message(w: Winner, prompt: Prompt, golden: GoldenSet, *, baseline: str | None,
                   models: dict[str, str], seed: int, run_id: str) -> str:
    base_m, win_m = w.baseline_metrics, w.metrics
    names = [k for k in base_m if k in win_m]
    table = tabulate([(k, f"{base_m[k]:.3f}", f"{win_m[k]:.3f}") for k in names],
                     headers=["metric", "baseline", "winner"], tablefmt="github")
    u = w.usage
    ev = w.test_evidence
    # Never a claim its own held-out figures do not back: "improve" only when they confirm it (or there are none).
    verb = "improve" if ev is None or ev.get("confirmed") else "candidate for"
    summary = f"promptloop: {verb} {prompt.name} (pass rate {w.baseline_rate:.2f} -> {w.rate:.2f}" + (
        f" on {w.cases} cases" if w.cases else "") + ("; not confirmed on held-out cases)" if verb != "improve"
                                                      else ")")
    body = [
        summary, "", table, "",
        f"Failures fixed: {w.heldout_fixed} of the held-out failures; on the golden set "
        f"{len(w.fixed)} case(s) fixed, {len(w.regressed)} regressed"
        + (f" ({', '.join(w.regressed)})" if w.regressed else "") + ".",
        f"Candidate: {w.origin}: {w.rationale}"
        + (f" (its {w.demos} demonstration case(s) are left out of both columns)" if w.demos else "") + ".",
        *([f"Tool descriptions rewritten: {', '.join(described_anew(prompt, w.tools))}."]
          if described_anew(prompt, w.tools) else []),
        *w.notes,
        *([held_out_line(ev)] if ev else [f"Held-out test part (never used to choose): pass rate "
                                          f"{w.test_rates[0]:.2f} -> {w.test_rates[1]:.2f}."] if w.test_rates else []),
        f"Budget spent: {u.get('calls', 0)} calls ({u.get('cached', 0)} cached), {u.get('tokens', 0)} tokens, "
        f"${u.get('cost_usd', 0.0):.3g}.",
        "",
        f"Promptloop-Prompt: {prompt.name}",
        f"Promptloop-Baseline: {baseline or 'unknown'}",
        f"Promptloop-Golden-Hash: {golden_hash(golden)}",
        f"Promptloop-Task-Model: {models['task']}",
        f"Promptloop-Proposer-Model: {models['proposer']}",
        f"Promptloop-Seed: {seed}",
        f"Promptloop-Cost-USD: {u.get('cost_usd', 0.0):.6f}",
        f"Promptloop-Pass-Rate: {w.rate:.4f}",
        f"Promptloop-Baseline-Pass-Rate: {w.baseline_rate:.4f}",
        f"Promptloop-Run: {run_id}",
    ]
    return "\n".join(body) + "\n"


def ship(repo: Any, winner: Winner, prompt: Prompt, golden: GoldenSet, *, prefix: str, models: dict[str, str],
         seed: int, run_id: str, now: datetime | None = None) -> Shipped:
    rel = relpath(repo, prompt.path)
    original = prompt.path.read_text(encoding="utf-8")
    new_text = replace_messages(original, winner.messages)
    if winner.output is not None and winner.output != prompt.output:
        new_text = set_output(new_text, winner.output)
    if winner.model is not None and winner.model != prompt.model_settings:
        new_text = set_mapping(new_text, "model", winner.model)
    files = {rel: new_text}
    why = tools_change(winner.tools, prompt, allowed=True)
    if why:  # a run log is a file like any other: what it says is checked again before it is committed
        raise ConfigError(f"the winner {why}; it is not committed")
    descriptions = described_anew(prompt, winner.tools)
    if descriptions and isinstance(prompt.data.get("tools"), str):  # the tools file the prompt names
        path = tools_file(prompt.path, prompt.data["tools"])
        files[relpath(repo, path)] = set_tool_descriptions(path.read_text(encoding="utf-8"), descriptions)
    elif descriptions:
        files[rel] = set_tool_descriptions(new_text, descriptions)
    # The winner may come from a run log, a file like any other: the prompt it writes is read back and checked
    # as `validate` would (declared variables, output, tools) before anything is committed.
    prompt_from_text(prompt.name, prompt.path, files[rel])
    message = commit_message(winner, prompt, golden, baseline=blob_id(repo, "HEAD", rel), models=models,
                             seed=seed, run_id=run_id)
    sha, branch = commit_on_free_branch(repo, files, branch_name(prefix, prompt.name, now), message)
    return Shipped(branch=branch, commit=sha, diff_stat=diff_stat(repo, branch),
                   push=f"git push -u origin {branch}", message=message)
