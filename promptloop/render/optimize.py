"""The optimiser in the terminal: its progress as it runs, its outcome, the runs it logged and each
candidate's diff against the prompt it started from."""

from __future__ import annotations

import difflib
import json
from typing import Any

from rich.table import Table

from promptloop.optimize.events import Baseline, CandidateScored, Estimate, Event, Note, Round, Stage
from promptloop.render import escape


class OptimizeView:
    """Live progress for optimize: round, candidate, running score, budget left."""

    def __init__(self, con: Any, options: Any, quiet: bool = False) -> None:
        self.con, self.options, self.quiet = con, options, quiet
        self.status: Any = None
        self.round = ""

    def __enter__(self) -> OptimizeView:
        if not self.quiet:
            self.status = self.con.status("optimize: starting")
            self.status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)

    def _budget(self, usage: dict[str, Any]) -> str:
        limit = self.options.calls
        left = f"{limit - usage.get('calls', 0)} of {limit} calls left" if limit is not None else ""
        return f"{usage.get('calls', 0)} calls, ${usage.get('cost_usd', 0):.3g}" + (f" ({left})" if left else "")

    def event(self, event: Event) -> None:
        if self.quiet:
            return
        match event:
            case Estimate(calls=calls, tokens=tokens, cases=cases):
                caps = f"budget: {self.options.calls} calls" if self.options.calls is not None else "no call cap"
                if self.options.usd is not None:
                    caps += f", ${self.options.usd:g}"
                self.con.print(f"estimate: at most {calls} model calls (~{tokens} tokens) for {cases} cases × "
                               f"{self.options.repeat}, {self.options.rounds} round(s); {caps}")
            case Baseline(rate=rate, failures=failures, plan=p):
                self.con.print(f"baseline pass rate {rate:.2f}; {failures} failing case(s): "
                               f"{len(p['shown'])} shown to the proposer, {len(p['heldout'])} held out; "
                               f"estimate ≤ {p['estimate_calls']} calls")
                if p.get("resolution"):
                    self.con.print(f"  [yellow]note:[/] {escape(p['resolution'])}")
            case Round(round=n, of=of):
                self.round = f"round {n}/{of}"
            case CandidateScored(candidate=c, budget=budget):
                self._candidate(c, budget)
            case Note(text=text):
                self.con.print(f"  [yellow]note:[/] {escape(text)}")
            case Stage(text=text) if self.status is not None:
                self.status.update(f"optimize: {text}")

    def _candidate(self, c: dict[str, Any], budget: dict[str, Any]) -> None:
        score = c["full_rate"] if c["full_rate"] is not None else c["slice_rate"]
        colour = {"accepted": "green", "rejected": "red", "stopped-early": "yellow"}.get(c["status"], "white")
        low_high = c.get("interval")
        interval = f" [{low_high[0]:.2f}, {low_high[1]:.2f}]" if low_high else ""
        self.con.print(f"  {self.round} {c['id']} [{colour}]{c['status']}[/] "
                       f"({escape(c['origin'])}, score {fmt_rate(score)}{escape(interval)}): "
                       f"{escape(c['reason'])}")
        if self.status is not None:
            self.status.update(f"optimize {self.round}: {self._budget(budget)}")

    def final(self, con: Any, report: Any) -> None:
        o = report.outcome
        p = o.plan
        if o.status == "dry-run":
            con.print(f"plan for {escape(o.prompt)}: {p.cases} cases × {self.options.repeat} repeat(s), "
                      f"{self.options.rounds} round(s) of up to {self.options.candidates} candidates")
            con.print(f"estimate: at most {p.estimate_calls} model calls (~{p.estimate_tokens} tokens); "
                      f"budget caps: calls {self.options.calls}, USD {self.options.usd}; no call was made")
            if p.resolution:
                con.print(f"note: {escape(p.resolution)}")
            return
        con.print(f"stopped: {escape(o.stop_reason)}; spent {self._budget(o.usage)}")
        if o.winner is None:
            con.print(f"[bold red]no improvement[/] over the baseline (pass rate {o.baseline_rate:.2f}); "
                      f"nothing committed. Run log: promptloop runs show {report.run_id}")
            if o.model_errors:
                con.print(f"[bold red]ERRORS[/] {o.model_errors} proposer call(s) or candidate(s) failed on model "
                          "errors, so a better prompt may exist (exit 3); see the run log")
            return
        w = o.winner
        con.print(f"[bold green]improved[/] {escape(o.prompt)}: pass rate {o.baseline_rate:.2f} → "
                  f"{w.full_rate:.2f} ({escape(w.reason)})")
        if o.test_rates:
            verdict = f"; {escape(o.test_evidence['verdict'])}" if o.test_evidence else ""
            con.print(f"on the held-out test part (never used to choose): {o.test_rates[0]:.2f} → "
                      f"{o.test_rates[1]:.2f}{verdict}")
        if report.shipped is None:  # --no-commit: show what would have been committed
            con.print(escape(prompt_diff(o.baseline_messages, o.baseline_output, w.candidate.messages,
                                         w.candidate.output, o.baseline_tools, w.candidate.tools)))
        if report.shipped is not None:
            s = report.shipped
            con.print(f"committed {s.commit[:10]} on branch [bold]{escape(s.branch)}[/] (your checkout is unchanged)")
            con.print(escape(s.diff_stat))
            con.print(f"review it: git diff HEAD {escape(s.branch)}   push it: {escape(s.push)}")


def optimize_json(report: Any) -> dict[str, Any]:
    o = report.outcome
    return {"prompt": o.prompt, "status": o.status, "run": report.run_id, "stop_reason": o.stop_reason,
            "baseline_rate": o.baseline_rate, "baseline_metrics": o.baseline_metrics,
            "winner": o.winner.log() if o.winner else None, "winner_metrics": o.winner_metrics,
            "plan": o.plan.log(), "usage": o.usage, "model_errors": o.model_errors,
            "test_part": {"baseline": o.test_rates[0], "winner": o.test_rates[1]} if o.test_rates else None,
            "candidates": [c.log() for c in o.candidates],
            "branch": report.shipped.branch if report.shipped else None,
            "commit": report.shipped.commit if report.shipped else None}


def render_runs(con: Any, runs: list[dict[str, Any]]) -> None:
    if not runs:
        con.print("no optimisation runs yet")
        return
    t = Table("id", "status", "baseline", "winner", "calls", "branch")
    for r in runs:
        t.add_row(escape(r["id"]), escape(str(r.get("status", "running"))), f"{r.get('baseline_rate') or 0:.2f}",
                  escape(str(r.get("winner") or "–")), str((r.get("usage") or {}).get("calls", "–")),
                  escape(str(r.get("branch") or "–")))
    con.print(t)


def prompt_text(messages: list[dict[str, Any]], output: dict[str, Any] | None,
                tools: list[dict[str, Any]] | None = None) -> list[str]:
    """A prompt as lines a person diffs: each message, a changed output setting, then each tool's description."""
    lines = []
    for m in messages:
        lines.append(f"[{m.get('role', 'placeholder')}]")
        lines += str(m.get("content", "")).splitlines() or [""]
    if output:
        lines.append(f"[output] {json.dumps(output, ensure_ascii=False)}")
    for t in tools or []:
        lines.append(f"[tool {t['function']['name']}]")
        lines += str(t["function"].get("description", "")).splitlines() or [""]
    return lines


def prompt_diff(before: list[dict[str, Any]], before_output: dict[str, Any] | None,
                after: list[dict[str, Any]], after_output: dict[str, Any] | None,
                before_tools: list[dict[str, Any]] | None = None,
                after_tools: list[dict[str, Any]] | None = None) -> str:
    """The candidate against the current prompt; tools enter only when the candidate describes them anew."""
    return "\n".join(difflib.unified_diff(prompt_text(before, before_output or None,
                                                      before_tools if after_tools is not None else None),
                                          prompt_text(after, after_output if after_output is not None
                                                      else before_output or None, after_tools),
                                          "current", "candidate", lineterm="", n=2))


def render_run(con: Any, run: dict[str, Any]) -> None:
    u = run.get("usage") or {}
    spent = (f"{u.get('calls', 0)} calls ({u.get('cached', 0)} cached), {u.get('tokens', 0)} tokens, "
             f"${u.get('cost_usd') or 0:.3g}") if u else "nothing recorded"
    con.print(f"[bold]{escape(run['id'])}[/]: {escape(str(run.get('status', 'running')))}; "
              f"stop: {escape(str(run.get('stop_reason') or '–'))}; spent: {spent}")
    ev = run.get("test_evidence")
    if ev:
        con.print(f"held-out test part ({ev['cases']} cases, never used to choose): {fmt_rate(ev['baseline'])} → "
                  f"{fmt_rate(ev['winner'])}; {escape(ev['verdict'])}")
    base = next((e for e in run.get("events", []) if e.get("kind") == "baseline"), None)
    resolution = ((base or {}).get("plan") or {}).get("resolution")
    if resolution:  # what its golden set could tell apart
        con.print(f"note: {escape(resolution)}")
    t = Table("candidate", "origin", "status", "slice", "full", "per call", "reason / rationale")
    for c in run.get("candidates", []):
        t.add_row(c["id"], c["origin"], c["status"], fmt_rate(c.get("slice_rate")), fmt_rate(c.get("full_rate")),
                  per_call(c),
                  escape(c["reason"] + (f" — {c['rationale']}" if c.get("rationale") else "")))
    con.print(t)
    if base is None:
        return
    for c in run.get("candidates", []):
        con.print(f"[bold]{escape(c['id'])}[/] ({escape(c['origin'])}, {escape(c['status'])}):")
        con.print(escape(prompt_diff(base.get("messages") or [], base.get("output"), c.get("messages") or [],
                                     c.get("output"), base.get("tools"), c.get("tools")) or "(same text)"))


def per_call(c: dict[str, Any]) -> str:
    """A candidate's cost per call, or its tokens per call where no price is known."""
    if c.get("cost_per_call") is not None:
        return f"${c['cost_per_call']:.2g}"
    return "–" if c.get("tokens_per_call") is None else f"{c['tokens_per_call']:.0f} tok"


def fmt_rate(v: Any) -> str:
    return "–" if v is None else f"{v:.2f}"
