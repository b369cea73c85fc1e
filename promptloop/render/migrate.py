"""``promptloop migrate`` in the terminal: per prompt, the verdict, the two models side by side, and the
cases the switch breaks and fixes."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from promptloop.render import escape
from promptloop.scoring.migration import MigrateReport
from promptloop.scoring.reports import side_by_side

SHOWN = 20  # cases listed per kind of flip; the reports list them all


def render_migrate(con: Any, report: MigrateReport) -> None:
    for m in report.migrations:
        verdict = "[green]safe[/]" if m.safe else "[yellow]not every case scored[/]" if m.verdict.ok \
            else "[bold red]worse[/]"
        con.print(f"[bold]{escape(m.prompt)}[/] on {escape(report.target)}: {verdict}")
        for reason in m.verdict.reasons:
            con.print(f"  {escape(reason)}")
        if m.verdict.confidence:
            con.print(f"  {escape(m.verdict.confidence)}")
        for error in m.verdict.errors[:3]:
            con.print(f"  [yellow]error[/] {escape(error)}")
        t = Table("", "current", "target")
        for row in side_by_side(m):
            t.add_row(*(escape(str(x)) for x in row))
        con.print(t)
        for label, colour, ids in (("broken", "red", m.broken), ("fixed", "green", m.fixed)):
            if ids:
                more = f" (and {len(ids) - SHOWN} more)" if len(ids) > SHOWN else ""
                con.print(f"  [{colour}]{label}[/] ({len(ids)}): {escape(', '.join(ids[:SHOWN]))}{more}")
        if m.repair is not None:
            render_repair(con, m)


def render_repair(con: Any, m: Any) -> None:
    r = m.repair
    rates = f"current {m.current.report.summary.pass_rate:.2f}, target with today's prompt " \
            f"{m.target.report.summary.pass_rate:.2f}"
    if r.optimised is not None:
        rates += f", target optimised {r.optimised.report.summary.pass_rate:.2f}"
    con.print(f"  --optimize: {escape(rates)}")
    if r.shipped is not None:
        con.print(f"  [green]committed[/] {r.shipped.commit[:10]} on branch [bold]{escape(r.shipped.branch)}[/] "
                  f"(prompt and model together; your checkout is unchanged); push it: {escape(r.shipped.push)}")
    else:
        con.print(f"  [yellow]nothing committed[/]: {escape(r.why)}")
