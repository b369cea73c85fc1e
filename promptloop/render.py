"""Rich rendering of core results for the terminal (the core itself never prints)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from .report import clip, failures, metric_rows
from .runner import EvalReport

MAX_FAILURES_SHOWN = 20


def render_eval(con: Any, report: EvalReport) -> None:
    s = report.summary
    con.print(f"[bold]{escape(report.prompt)}[/] on [bold]{escape(report.golden)}[/] with "
              f"[cyan]{escape(report.model)}[/]: {s.passed}/{s.samples} passed ({s.pass_rate:.1%}) "
              f"in {report.duration_s:.1f} s")
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
    fails = failures(report)
    if fails:
        ft = Table("case", "input", "expected", "got", "reason",
                   title=f"failing cases ({len(fails)})", title_justify="left")
        for r in fails[:MAX_FAILURES_SHOWN]:
            ft.add_row(escape(r.case_id + (f"#{r.sample}" if report.repeat > 1 else "")),
                       escape(clip(r.inputs, 50)), escape(clip(r.expected, 30)),
                       escape(clip(r.output, 30)), escape(clip(r.reason, 70)))
        con.print(ft)
        if len(fails) > MAX_FAILURES_SHOWN:
            con.print(f"… and {len(fails) - MAX_FAILURES_SHOWN} more (use -o report.md for all)")
    if report.missed:
        con.print("[bold red]FAILED[/] thresholds: " + escape("; ".join(report.missed)))
    else:
        con.print("[bold green]ok[/]" + (" (thresholds: " + ", ".join(
            f"{k} ≥ {v:g}" for k, v in report.thresholds.items()) + ")" if report.thresholds else ""))
