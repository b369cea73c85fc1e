"""Rich rendering of core results for the terminal (the core itself never prints)."""

from __future__ import annotations

import difflib
import json
from typing import Any

from rich.markup import escape as markup_escape
from rich.table import Table

from promptloop.masking import visible
from promptloop.optimize.events import Baseline, CandidateScored, Estimate, Event, Note, Round, Stage
from promptloop.scoring.eval_run import EvalReport
from promptloop.scoring.gate import RegressReport
from promptloop.scoring.metrics import LOWER_IS_BETTER
from promptloop.scoring.reports import clip, failures, metric_rows

MAX_FAILURES_SHOWN = 20


def escape(text: str) -> str:
    """Untrusted text for the terminal: no markup, control characters written out (an ESC drives no terminal)."""
    return markup_escape(visible(text))


def render_eval(con: Any, report: EvalReport) -> None:
    s = report.summary
    con.print(f"[bold]{escape(report.prompt)}[/] on [bold]{escape(report.golden)}[/] with "
              f"[cyan]{escape(report.model)}[/]: {s.passed} passed, {s.failed} failed"
              + (f", [bold red]{s.errors} errors[/]" if s.errors else "")
              + f" (pass rate {s.pass_rate:.1%} of {s.scored} scored) in {report.duration_s:.1f} s")
    if report.excluded:
        con.print(f"{len(report.excluded)} case(s) left out: the prompt shows them as demonstrations "
                  f"({escape(', '.join(report.excluded[:5]))}{', …' if len(report.excluded) > 5 else ''})")
    table = Table("metric", "value", title="metrics", title_justify="left")
    for k, v in metric_rows(report):
        table.add_row(k, v)
    con.print(table)
    if s.labels:
        lt = Table("label", "support", "tp", "fp", "fn", title="labels", title_justify="left")
        for name, c in s.labels.items():
            lt.add_row(escape(name), str(c["support"]), str(c["tp"]), str(c["fp"]), str(c["fn"]))
        con.print(lt)
    if report.repeat > 1:
        flaky = {k: v for k, v in s.per_case.items() if 0 < v < 1}
        con.print(f"per-case pass rate over {report.repeat} samples: {len(flaky)} flaky case(s)"
                  + (": " + ", ".join(f"{k} {v:.0%}" for k, v in list(flaky.items())[:10]) if flaky else ""))
    _render_failures(con, report)
    _render_verdict(con, report)


def _render_failures(con: Any, report: EvalReport) -> None:
    fails = failures(report)
    if not fails:
        return
    if report.repeat > 1:
        _render_repeated_failures(con, report, fails)
        return
    ft = Table("case", "status", "input", "expected", "got", "reason",
               title=f"failing {'and errored ' if report.summary.errors else ''}cases ({len(fails)})",
               title_justify="left")
    for r in fails[:MAX_FAILURES_SHOWN]:
        ft.add_row(escape(r.case_id + (f"#{r.sample}" if report.repeat > 1 else "")),
                   "[red]error[/]" if r.error else "failed",
                   escape(clip(r.inputs, 50)), escape(clip(r.expected, 30)),
                   escape(clip(r.output, 30)), escape(clip(r.reason, 70)))
    con.print(ft)
    if len(fails) > MAX_FAILURES_SHOWN:
        con.print(f"… and {len(fails) - MAX_FAILURES_SHOWN} more (use -o report.md for all)")


def _render_repeated_failures(con: Any, report: EvalReport, fails: list[Any]) -> None:
    """With --repeat N: one row per case that failed at least once, with how many of its N samples passed."""
    samples: dict[str, list[Any]] = {}
    for r in report.results:
        samples.setdefault(r.case_id, []).append(r)
    shown = list(dict.fromkeys(r.case_id for r in fails))
    ft = Table("case", "passed", "input", "expected", "got (a failing sample)", "reason",
               title=f"cases failing in some samples ({len(shown)} of {len(samples)})", title_justify="left")
    for case in shown[:MAX_FAILURES_SHOWN]:
        rs = samples[case]
        bad = next(r for r in rs if not r.passed)
        errors = sum(1 for r in rs if r.error)
        ft.add_row(escape(case), f"{sum(r.passed for r in rs)}/{len(rs)}" + (f" ({errors} error)" if errors else ""),
                   escape(clip(bad.inputs, 50)), escape(clip(bad.expected, 30)), escape(clip(bad.output, 30)),
                   escape(clip(bad.reason, 70)))
    con.print(ft)
    if len(shown) > MAX_FAILURES_SHOWN:
        con.print(f"… and {len(shown) - MAX_FAILURES_SHOWN} more (use -o report.md for all)")


def _render_verdict(con: Any, report: EvalReport) -> None:
    code = report.exit_code
    if report.shard is not None and code == 0:
        con.print(escape(report.verdict))
    elif code == 1:
        con.print("[bold red]FAILED[/] " + escape(report.verdict))
    elif code == 3:
        con.print("[bold red]ERRORS[/] " + escape(report.verdict) + " (exit 3: fix the endpoint or key, then "
                  "rerun; answers already received are cached)")
    elif report.thresholds:
        con.print("[bold green]ok[/]: thresholds met (" + ", ".join(
            f"{k} {'≤' if k in LOWER_IS_BETTER else '≥'} {v:g}" for k, v in report.thresholds.items()) + ")")
    else:
        con.print("no thresholds set, so nothing gates this run; add `thresholds:` to the prompt or to "
                  "promptloop.yaml to make eval fail (exit 1) below them")


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
        self.con.print(f"  {self.round} {c['id']} [{colour}]{c['status']}[/] "
                       f"({escape(c['origin'])}, score {fmt_rate(score)}): "
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
            con.print(f"on the held-out test part (never used to choose): {o.test_rates[0]:.2f} → "
                      f"{o.test_rates[1]:.2f}")
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
    t = Table("candidate", "origin", "status", "slice", "full", "reason / rationale")
    for c in run.get("candidates", []):
        t.add_row(c["id"], c["origin"], c["status"], fmt_rate(c.get("slice_rate")), fmt_rate(c.get("full_rate")),
                  escape(c["reason"] + (f" — {c['rationale']}" if c.get("rationale") else "")))
    con.print(t)
    base = next((e for e in run.get("events", []) if e.get("kind") == "baseline"), None)
    if base is None:
        return
    for c in run.get("candidates", []):
        con.print(f"[bold]{escape(c['id'])}[/] ({escape(c['origin'])}, {escape(c['status'])}):")
        con.print(escape(prompt_diff(base.get("messages") or [], base.get("output"), c.get("messages") or [],
                                     c.get("output"), base.get("tools"), c.get("tools")) or "(same text)"))


def fmt_rate(v: Any) -> str:
    return "–" if v is None else f"{v:.2f}"


def render_regress(con: Any, report: RegressReport) -> None:
    con.print(f"regress against {escape(report.base)} (merge-base {report.merge_base[:10]}): "
              f"{len(report.prompts)} changed prompt(s), {len(report.unchanged)} unchanged, {report.calls} call(s)")
    for v in report.prompts:
        mark = "[bold red]REGRESSION[/]" if not v.ok else "[bold red]ERRORS[/]" if v.errors else "[green]ok[/]"
        con.print(f"[bold]{escape(v.name)}[/] ({escape(v.status)}): {mark}")
        if v.errors:
            con.print(f"  [red]![/] {len(v.errors)} case(s) could not be scored (model errors), e.g. "
                      f"{escape(clip(v.errors[0], 160))}")
        for n in v.notes:
            con.print(f"  note: {escape(n)}")
        for r in v.reasons:
            con.print(f"  [red]✗[/] {escape(r)}")
        if v.confidence:
            con.print(f"  {escape(v.confidence)}")
        names = [k for k in v.new_metrics if k in v.base_metrics]
        if names:
            t = Table("metric", "base", "new", "Δ")
            for k in names:
                t.add_row(k, f"{v.base_metrics[k]:.3f}", f"{v.new_metrics[k]:.3f}",
                          f"{v.new_metrics[k] - v.base_metrics[k]:+.3f}")
            con.print(t)
        changed = [c for c in v.cases if c.change in ("regressed", "fixed")]
        if changed:
            t = Table("case", "change", "reason now")
            for c in changed:
                style = "red" if c.change == "regressed" else "green"
                t.add_row(escape(c.id), f"[{style}]{c.change}[/]" + (" (critical)" if c.critical else ""),
                          escape(clip(c.reason, 70)))
            con.print(t)
    if not report.ok:
        con.print("[bold red]fail[/]: a changed prompt regressed")
    elif report.errors:
        con.print(f"[bold red]errors[/]: {report.errors} case(s) could not be scored because model calls failed, so "
                  "nothing can be said about them (exit 3); fix the endpoint or key and rerun")
    else:
        con.print("[bold green]pass[/]")


def render_models(con: Any, statuses: list[tuple[str, list[str], bool, str]]) -> None:
    # Lines, not a table: endpoints and fixes must never be cut at the terminal's width.
    for name, users, ok, detail in statuses:
        mark = "[green]ready[/]" if ok else "[bold red]not ready[/]"
        con.print(f"[bold]{escape(name)}[/] ({escape(', '.join(users))}): {mark}")
        con.print(f"  {escape(detail)}")


def render_versions(con: Any, versions: list[Any]) -> None:
    t = Table("commit", "date", "author", "pass rate", "subject")
    for v in versions:
        t.add_row(v.commit[:10], v.date, escape(v.author), "–" if v.score is None else f"{v.score:.3f}",
                  escape(v.subject))
    con.print(t)


def render_diff(con: Any, d: Any) -> None:
    from rich.syntax import Syntax

    if not d.text:
        con.print(f"no difference between {escape(d.a)} and {escape(d.b)}")
        return
    con.print(Syntax(d.text, "diff", theme="ansi_dark", background_color="default"))
    if d.score_a is not None or d.score_b is not None:
        delta = (f" ({d.score_b - d.score_a:+.3f})" if d.score_a is not None and d.score_b is not None else "")
        con.print(f"pass rate: {'–' if d.score_a is None else f'{d.score_a:.3f}'} → "
                  f"{'–' if d.score_b is None else f'{d.score_b:.3f}'}{delta}")


def render_import(con: Any, err: Any, s: Any) -> None:
    if len(s.problems) <= 10:
        for p in s.problems:
            err.print(f"[yellow]skipped[/] {escape(p)}")
    else:  # many lines fail alike: one line per kind of problem, with where it first happened
        kinds: dict[str, list[str]] = {}
        for p in s.problems:
            head, _, rest = p.partition(": ")
            kinds.setdefault(rest or p, []).append(head)
        for why, wheres in sorted(kinds.items(), key=lambda kv: -len(kv[1]))[:15]:
            err.print(f"[yellow]skipped[/] {len(wheres)}× {escape(why[:160])} (first at {escape(wheres[0])})")
        if len(kinds) > 15:
            err.print(f"… and {len(kinds) - 15} more kinds of problem (`--json` lists them all)")
    con.print(f"imported {s.imported}, duplicate {s.duplicates}, skipped {s.skipped}; feedback records "
              f"{s.feedback}; matched to prompts {s.matched}")
    if s.formats:
        con.print("formats: " + ", ".join(f"{k} {v}" for k, v in s.formats.items()) + "; verdicts: "
                  + ", ".join(f"{k} {v}" for k, v in s.verdicts.items()))
    for name, f in s.by_format.items():
        if not (f.records or f.calls):
            continue
        parts = [f"{f.records} record(s), {f.calls} call(s)"]
        parts += [f"skipped {n}× {escape(why)}" for why, n in f.skipped.most_common(3)]
        warn = [f"{n} call(s) without {what} (first at {escape(str(at))})" for what, (n, at) in f.missing.items()]
        tail = "" if not warn else "; [yellow]" + "; ".join(warn) + "[/]"
        con.print(f"  {escape(name)}: " + "; ".join(parts) + tail)


def render_trace_summary(con: Any, s: dict[str, Any], *, prompt: str | None, failed: bool) -> None:
    prov = s["verdict_provenance"]
    con.print(f"{s['traces']} trace(s)" + (f" of {prompt}" if prompt else "") + (" (failed)" if failed else "")
              + f"; verdicts: {prov['direct']} direct, {prov['inherited']} inherited from whole-trace feedback")
    for title, key in (("verdict", "verdicts"), ("prompt@version", "prompt_versions"), ("model", "models")):
        t = Table(title, "traces")
        for k, v in sorted(s[key].items(), key=lambda kv: -kv[1]):
            t.add_row(escape(k), str(v))
        con.print(t)
    if s["top_failure_reasons"]:
        t = Table("top failure reasons", "traces")
        for reason, n in s["top_failure_reasons"]:
            t.add_row(escape(reason[:100]), str(n))
        con.print(t)
    lat, cost = s["latency_ms"], s["cost_usd"]
    fmt_ = lambda v, d=1: "–" if v is None else f"{v:.{d}f}"  # noqa: E731
    con.print(f"latency ms p50 {fmt_(lat['p50'])} p95 {fmt_(lat['p95'])}; cost USD p50 {fmt_(cost['p50'], 6)} "
              f"p95 {fmt_(cost['p95'], 6)} total {fmt_(cost['total'], 4)}")


def render_comparison(con: Any, c: Any) -> None:
    t = Table("version", "traces", "with feedback", "pass rate (95% CI)", "latency p50/p95 ms", "cost/call USD")
    for x in (c.a, c.b):
        lo, hi = x.interval
        rate = "–" if x.rate is None else f"{x.rate:.1%} ({lo:.1%}–{hi:.1%})"
        lat = "–" if x.latency_p50 is None else f"{x.latency_p50:.0f}/{x.latency_p95:.0f}"
        t.add_row(escape(x.version), str(x.traces), str(x.judged), rate, lat,
                  "–" if x.cost_per_call is None else f"{x.cost_per_call:.6f}")
    con.print(t)
    colour = {"promote": "green", "hold": "red"}.get(c.verdict, "yellow")
    con.print(f"[bold {colour}]{c.verdict}[/]: {escape(c.reason)}"
              + (f"; about {c.more_needed} more traces with feedback would settle it" if c.more_needed else ""))
