"""Eval reports as JSON, Markdown, JUnit XML and HTML (pure: data in, text out)."""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

from tabulate import tabulate

from promptloop import codec
from promptloop.masking import markdown_text, visible
from promptloop.repo.template import as_text
from promptloop.scoring.eval_run import EvalReport, report_dict
from promptloop.scoring.gate import RegressReport
from promptloop.scoring.migration import MigrateReport, Migration


def h(value: Any) -> str:
    """Untrusted text for HTML: escaped, control characters written out."""
    return html.escape(visible(value if isinstance(value, str) else str(value)))


def md(value: Any, n: int = 80) -> str:
    """Untrusted text for a Markdown table or sentence (the PR comment): clipped, no HTML, no cell breaks."""
    return markdown_text(clip(value, n))


def code(value: Any) -> str:
    """A name shown as `code`: nothing in it may end the code span (HTML inside one is shown as text)."""
    return "`" + visible(str(value)).replace("`", "'").replace("\n", " ") + "`"


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def clip(value: Any, n: int = 80) -> str:
    text = as_text(value).replace("\n", " ").strip()
    return text if len(text) <= n else text[: n - 1] + "…"


def to_json(report: EvalReport) -> str:
    return codec.dumps(report_dict(report), indent=True)


def metric_rows(report: EvalReport) -> list[tuple[str, str]]:
    rows = [(k, fmt(v)) for k, v in report.summary.metrics.items()]
    u = report.summary.usage
    rows += [("tokens in/out", f"{u['input_tokens']}/{u['output_tokens']}"),
             ("cost (USD)", "–" if u["cost_usd"] is None else f"{u['cost_usd']:.3g}"),
             ("latency p50/p95 (s)", f"{fmt(u['latency_p50_s'])}/{fmt(u['latency_p95_s'])}"),
             ("calls made / cached", f"{report.calls}/{u['cached']}")]
    return rows


def failures(report: EvalReport) -> list[Any]:
    return [r for r in report.results if not r.passed]


def to_markdown(report: EvalReport) -> str:
    s = report.summary
    verdict = {0: "passed", 1: "FAILED", 3: "ERRORS"}.get(report.exit_code, "FAILED") + ": " + report.verdict
    out = [f"# promptloop eval: {md(report.prompt)}", "",
           f"Golden set {code(report.golden)}, model {code(report.model)}, {s.cases} cases × {report.repeat}: "
           f"**{s.passed} passed, {s.failed} failed, {s.errors} errors** (pass rate {s.pass_rate:.1%} of "
           f"{s.scored} scored); {md(verdict, 400)}.", "",
           tabulate(metric_rows(report), headers=["metric", "value"], tablefmt="github"), ""]
    if s.labels:
        rows = [(md(k), v["support"], v["tp"], v["fp"], v["fn"]) for k, v in s.labels.items()]
        out += ["## Labels", "", tabulate(rows, headers=["label", "support", "tp", "fp", "fn"],
                                          tablefmt="github"), ""]
    fails = failures(report)
    if fails:
        rows2 = [(md(r.case_id), r.status, md(r.inputs, 60), md(r.expected, 40), md(r.output, 40),
                  md(r.reason, 80)) for r in fails]
        out += [f"## Failing {'and errored ' if s.errors else ''}cases ({len(fails)})", "",
                tabulate(rows2, headers=["case", "status", "input", "expected", "got", "reason"],
                         tablefmt="github"), ""]
    return "\n".join(out)


def to_junit(report: EvalReport) -> str:
    suite = ET.Element("testsuite", name=f"promptloop.{report.prompt}", tests=str(len(report.results)),
                       failures=str(sum(1 for r in report.results if not r.passed and not r.error)),
                       errors=str(sum(1 for r in report.results if r.error)),
                       time=f"{report.duration_s:.3f}")
    for r in report.results:
        name = r.case_id if report.repeat == 1 else f"{r.case_id}#{r.sample}"
        tc = ET.SubElement(suite, "testcase", classname=f"{report.prompt}.{report.golden}", name=name,
                           time=f"{r.latency_s:.3f}")
        if r.error:
            ET.SubElement(tc, "error", message=clip(r.error, 200)).text = r.error
        elif not r.passed:
            el = ET.SubElement(tc, "failure", message=clip(r.reason, 200))
            el.text = f"expected: {as_text(r.expected)}\ngot: {r.output}\nreason: {r.reason}"
    suites = ET.Element("testsuites")
    suites.append(suite)
    return xml_document(suites)


def xml_document(root: ET.Element) -> str:
    """A well-formed XML document of ``root``: every text and attribute with its control characters written
    out (XML 1.0 cannot hold them, and a case id or a model's answer may)."""
    for el in root.iter():
        el.text = visible(el.text) if el.text else el.text
        for k, v in el.attrib.items():
            el.attrib[k] = visible(v)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ---------------------------------------------------------------- html
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
    head = "".join(f"<th>{h(name)}</th>" for name in headers)
    body = "".join(
        f"<tr class=\"{h(classes[i]) if classes else ''}\">"
        + "".join(f"<td>{h(as_text(c) if not isinstance(c, str) else c)}</td>" for c in row) + "</tr>"
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
    """One self-contained HTML page: metrics, the label confusion, every failing or errored case; tables
    sort on a click; no network, no assets."""
    s = report.summary
    parts = [f"<h1>promptloop eval: {h(report.prompt)}</h1>",
             f"<p>Golden set <code>{h(report.golden)}</code>, model <code>{h(report.model)}</code>"
             f", {s.cases} cases × {report.repeat}: {s.passed} passed, {s.failed} failed, {s.errors} errors. "
             f"<span class=\"verdict\">{h(report.verdict)}</span></p>",
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
            f"{h(report.prompt)}</title><style>{STYLE}</style></head><body>" + "".join(parts)
            + f"<script>{SORT}</script></body></html>\n")


WRITERS = {"json": to_json, "markdown": to_markdown, "junit": to_junit, "html": to_html}


# ---------------------------------------------------------------- regress
def regress_dict(report: RegressReport) -> dict[str, Any]:
    # "ok" is what the exit code says (model errors are not ok); "gate_ok" whether the scored cases pass the gate.
    return {"base": report.base, "merge_base": report.merge_base, "ok": report.exit_code == 0,
            "gate_ok": report.ok, "exit_code": report.exit_code,
            "errors": report.errors, "calls": report.calls, "shard": list(report.shard) if report.shard else None,
            "settings": report.settings, "repeat": report.repeat,
            "unchanged": report.unchanged,
            "prompts": [{"name": v.name, "status": v.status, "ok": v.ok and not v.errors, "gate_ok": v.ok,
                         "reasons": v.reasons, "notes": v.notes,
                         "errors": v.errors,
                         "confidence": v.confidence, "base_metrics": v.base_metrics, "new_metrics": v.new_metrics,
                         "fixed": v.paired.fixed if v.paired else [],
                         "regressed": v.paired.regressed if v.paired else [], "cases": [c.to_dict() for c in v.cases]}
                        for v in report.prompts]}


def regress_markdown(report: RegressReport) -> str:
    head = "❌ regression" if not report.ok else (f"⚠️ {report.errors} case(s) not scored: model errors"
                                                  if report.errors else "✅ no regressions")
    out = [f"## promptloop regress: {head}", "",
           f"Base {code(report.base)} (merge-base {code(report.merge_base[:10])}); "
           f"{len(report.prompts)} changed prompt(s), "
           f"{len(report.unchanged)} unchanged (not scored); {report.calls} model call(s).", ""]
    for v in report.prompts:
        mark = "❌" if not v.ok else "⚠️" if v.errors else "✅"
        out += [f"### {mark} {code(v.name)} ({md(v.status)})", ""]
        if v.errors:
            out.append(f"- **{len(v.errors)} case(s) not scored (model errors)**, e.g. {md(v.errors[0], 160)}")
        out += [f"- {md(n, 400)}" for n in v.notes]
        out += [f"- **{md(r, 400)}**" for r in v.reasons]
        if v.confidence:
            out.append(f"- {md(v.confidence, 400)}")
        out.append("")
        names = [k for k in v.new_metrics if k in v.base_metrics] or list(v.new_metrics)
        rows = [(md(k), fmt(v.base_metrics.get(k)), fmt(v.new_metrics.get(k))) for k in names]
        if rows:
            out += [tabulate(rows, headers=["metric", "base", "new"], tablefmt="github"), ""]
        changed = [c for c in v.cases if c.change in ("regressed", "fixed")]
        if changed:
            out += [tabulate([(md(c.id), c.change + (" (critical)" if c.critical else ""),
                               md(c.reason, 80)) for c in changed],
                             headers=["case", "change", "reason now"], tablefmt="github"), ""]
    return "\n".join(out)


def regress_junit(report: RegressReport) -> str:
    suites = ET.Element("testsuites", name="promptloop regress")
    for v in report.prompts:
        suite = ET.SubElement(suites, "testsuite", name=f"promptloop.regress.{v.name}", tests=str(len(v.cases)),
                              failures=str(sum(1 for c in v.cases if c.change == "regressed")),
                              errors=str(sum(1 for c in v.cases if c.change == "error")))
        for c in v.cases:
            tc = ET.SubElement(suite, "testcase", classname=f"promptloop.{v.name}", name=c.id)
            if c.change == "error":
                ET.SubElement(tc, "error", message=clip(c.reason, 200)).text = c.reason
            elif c.change == "regressed":
                crit = "critical case " if c.critical else ""
                el = ET.SubElement(tc, "failure", message=f"{crit}regressed: {clip(c.reason, 160)}")
                el.text = f"expected: {as_text(c.expected)}\ngot: {c.output or ''}"
            elif c.change in ("still failing", "failing"):
                ET.SubElement(tc, "skipped", message=f"failing before and after: {clip(c.reason, 160)}")
    return xml_document(suites)


# ---------------------------------------------------------------- migrate
def migrate_dict(report: MigrateReport) -> dict[str, Any]:
    return {"target": report.target, "ok": report.exit_code == 0, "exit_code": report.exit_code,
            "prompts": [{"name": m.prompt, "verdict": "safe" if m.safe else "errors" if m.verdict.ok else "worse",
                         "reasons": m.verdict.reasons, "confidence": m.verdict.confidence, "broken": m.broken,
                         "fixed": m.fixed, "errors": m.verdict.errors,
                         "critical_broken": [c.id for c in m.verdict.cases if c.critical and c.change == "regressed"],
                         "current": m.current.usage(), "target": m.target.usage(),
                         "optimised": repair_dict(m.repair)} for m in report.migrations]}


def repair_dict(r: Any) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"target": r.optimised.usage() if r.optimised else None, "committed": r.shipped is not None,
            "branch": r.shipped.branch if r.shipped else None, "commit": r.shipped.commit if r.shipped else None,
            "reasons": r.verdict.reasons if r.verdict else [], "why_not": r.why}


def migrate_markdown(report: MigrateReport) -> str:
    out = [f"## promptloop migrate to {code(report.target)}", ""]
    for m in report.migrations:
        head = "✅ safe" if m.safe else "⚠️ not every case scored" if m.verdict.ok else "❌ worse"
        out += [f"### {code(m.prompt)}: {head}", ""]
        out += [f"- **{md(r, 400)}**" for r in m.verdict.reasons]
        out += [f"- {md(x, 400)}" for x in (m.verdict.confidence, *m.verdict.errors[:5]) if x]
        out += ["", tabulate(side_by_side(m), headers=["", "current", "target"], tablefmt="github"), ""]
        for label, ids in (("broken", m.broken), ("fixed", m.fixed)):
            if ids:
                out.append(f"{label.capitalize()} ({len(ids)}): " + ", ".join(md(i, 60) for i in ids))
        out.append("")
    return "\n".join(out)


def side_by_side(m: Migration) -> list[tuple[str, str, str]]:
    """The two models' figures, row by row (what the terminal and the Markdown report show)."""
    a, b = m.current.usage(), m.target.usage()
    def money(v: float | None) -> str:
        return "–" if v is None else f"${v:.4g}"

    return [("model", a["model"], b["model"]), ("pass rate", fmt(a["pass_rate"]), fmt(b["pass_rate"])),
            ("tokens in / out per call", f"{a['input_tokens_per_call']:.0f} / {a['output_tokens_per_call']:.0f}",
             f"{b['input_tokens_per_call']:.0f} / {b['output_tokens_per_call']:.0f}"),
            ("cost per 1,000 calls", money(a["cost_per_1000_calls_usd"]), money(b["cost_per_1000_calls_usd"])),
            ("latency p50 / p95 (s)", f"{fmt(a['latency_p50_s'])} / {fmt(a['latency_p95_s'])}",
             f"{fmt(b['latency_p50_s'])} / {fmt(b['latency_p95_s'])}")]


def migrate_junit(report: MigrateReport) -> str:
    suites = ET.Element("testsuites", name="promptloop migrate")
    for m in report.migrations:
        suite = ET.SubElement(suites, "testsuite", name=f"promptloop.migrate.{m.prompt}",
                              tests=str(len(m.verdict.cases)), failures=str(len(m.broken)),
                              errors=str(len(m.verdict.errors)))
        for c in m.verdict.cases:
            tc = ET.SubElement(suite, "testcase", classname=f"promptloop.migrate.{m.prompt}", name=c.id)
            if c.change == "error":
                ET.SubElement(tc, "error", message=clip(c.reason, 200)).text = c.reason
            elif c.change == "regressed":
                el = ET.SubElement(tc, "failure", message=f"broken on {report.target}: {clip(c.reason, 160)}")
                el.text = f"expected: {as_text(c.expected)}\ngot: {c.output or ''}"
    return xml_document(suites)


MIGRATE_WRITERS = {"json": lambda r: codec.dumps(migrate_dict(r), indent=True), "markdown": migrate_markdown,
                   "junit": migrate_junit}
