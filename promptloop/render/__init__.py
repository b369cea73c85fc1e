"""Rich rendering of core results for the terminal (the core itself never prints)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape as markup_escape
from rich.table import Table

from promptloop.masking import visible
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
    _render_judge(con, report.judge)
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


def _render_judge(con: Any, j: dict[str, Any] | None) -> None:
    if not j:
        return
    if j["advisory"]:
        alone = j["judge_only_failures"]
        con.print(f"[yellow]llm_judge is advisory[/]: {escape(j['advisory'])}"
                  + (f"; {len(alone)} case(s) failing on it alone count as passed ({escape(', '.join(alone[:5]))})"
                     if alone else ""))
    elif j.get("corrected_pass_rate") is not None:
        low, high = j["corrected_interval"]
        con.print(f"judge pass rate {j['judge_pass_rate']:.2f}; corrected for its measured errors "
                  f"{j['corrected_pass_rate']:.2f} [{low:.2f}, {high:.2f}] (kappa {j['kappa']:.2f})")


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
