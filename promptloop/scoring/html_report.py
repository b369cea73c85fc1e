"""The eval report as one self-contained HTML page: metrics, the label confusion, and every failing or
errored case with its input, expected and actual output; tables sort on a click. No network, no assets."""

from __future__ import annotations

import html
import json
from collections import Counter
from typing import Any

from promptloop.repo.template import as_text
from promptloop.scoring.eval_run import EvalReport

STYLE = ("body{font:14px system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.4em}"
         "h2{font-size:1.1em;margin-top:2em}table{border-collapse:collapse;margin:.5em 0}"
         "th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top;max-width:40em;"
         "white-space:pre-wrap}th{background:#f3f3f3;cursor:pointer}"
         ".failed{color:#b00}.error{color:#a60}.passed{color:#070}.verdict{font-weight:bold}")

SORT = """document.querySelectorAll('th').forEach(th=>th.addEventListener('click',()=>{const t=th.closest('table'),
i=[...th.parentNode.children].indexOf(th),rows=[...t.querySelectorAll('tbody tr')],asc=th.dataset.asc!=='1';
rows.sort((a,b)=>{const x=a.children[i].innerText,y=b.children[i].innerText,nx=parseFloat(x),ny=parseFloat(y);
return (isNaN(nx)||isNaN(ny)?x.localeCompare(y):nx-ny)*(asc?1:-1)});th.dataset.asc=asc?'1':'0';
rows.forEach(r=>t.querySelector('tbody').appendChild(r))}));"""


def _table(table_id: str, headers: list[str], rows: list[list[Any]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        f"<tr class=\"{html.escape(classes[i]) if classes else ''}\">"
        + "".join(f"<td>{html.escape(as_text(c) if not isinstance(c, str) else c)}</td>" for c in row) + "</tr>"
        for i, row in enumerate(rows))
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def confusion(report: EvalReport) -> tuple[list[str], list[list[Any]]]:
    pairs: Counter[tuple[str, str]] = Counter()
    for r in report.results:
        for x in r.results:
            if x.type == "label":
                pairs[(str(x.extra.get("label_expected")), str(x.extra.get("label_predicted")))] += 1
    labels = sorted({a for a, _ in pairs} | {b for _, b in pairs})
    return labels, [[exp, *[pairs.get((exp, got), 0) for got in labels]] for exp in labels]


def to_html(report: EvalReport) -> str:
    from promptloop.scoring.reports import metric_rows

    s = report.summary
    parts = [f"<h1>promptloop eval: {html.escape(report.prompt)}</h1>",
             f"<p>Golden set <code>{html.escape(report.golden)}</code>, model <code>{html.escape(report.model)}</code>"
             f", {s.cases} cases × {report.repeat}: {s.passed} passed, {s.failed} failed, {s.errors} errors. "
             f"<span class=\"verdict\">{html.escape(report.verdict)}</span></p>",
             "<h2>Metrics</h2>", _table("metrics", ["metric", "value"], [list(r) for r in metric_rows(report)])]
    labels, rows = confusion(report)
    if labels:
        parts += ["<h2>Labels: expected (rows) × predicted (columns)</h2>",
                  _table("confusion", ["expected", *labels], rows)]
    bad = [r for r in report.results if not r.passed]
    parts += [f"<h2>Failing and errored cases ({len(bad)})</h2>",
              _table("cases", ["case", "status", "input", "expected", "got", "reason"],
                     [[r.case_id, r.status, json.dumps(r.inputs, ensure_ascii=False), as_text(r.expected), r.output,
                       r.reason] for r in bad], [r.status for r in bad])]
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>promptloop eval: "
            f"{html.escape(report.prompt)}</title><style>{STYLE}</style></head><body>" + "".join(parts)
            + f"<script>{SORT}</script></body></html>\n")
