"""Production traces: import, traces, golden add, compare."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from promptloop.cli.app import LoopOrder, app, command, console, esc, fail, repo_config


@app.command("import")
@command
def import_(
    files: Annotated[list[Path], typer.Argument(
        metavar="FILE", help="JSONL, JSON or .gz exports (and VCR cassettes).")],
    fmt: Annotated[str, typer.Option("--format", metavar="NAME",
                                     help="auto (each record's format is detected), or one format's name; "
                                     "an unknown name lists them.")] = "auto",
    prompt: Annotated[str | None, typer.Option(metavar="TEXT", help="Attribute every trace to this prompt.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import production traces into the local trace store (idempotent)."""
    from promptloop.flows.ingest import import_files
    from promptloop.traces.formats import FORMATS
    from promptloop.traces.importer import summary_dict

    if fmt != "auto" and fmt not in FORMATS:
        raise fail(f"--format {fmt}: unknown; use auto or one of: {', '.join(FORMATS)}")
    s = import_files(repo_config(), files, fmt=fmt, prompt=prompt)
    if as_json:
        sys.stdout.write(json.dumps(summary_dict(s), indent=2) + "\n")
    else:
        from promptloop.render import render_import

        render_import(console(), console(stderr=True), s)
    if not s.records:
        raise fail(f"nothing imported: no record of {', '.join(str(f) for f in files)} could be read as a trace "
                   f"({len(s.problems)} problem(s) above); check the files, or pass --format NAME")
    if s.files_failed:
        raise typer.Exit(2)


@app.command()
@command
def traces(
    prompt: Annotated[str | None, typer.Argument(metavar="PROMPT", help="Only this prompt's traces.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only failed traces.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Counts by verdict, prompt version and model; top failure reasons; latency and cost percentiles."""
    from promptloop.traces.store import TraceStore, store_path, summarize

    config = repo_config()
    with TraceStore(store_path(config.cache_dir)) as store:
        found = store.query(prompt=prompt, verdict="fail" if failed else None)
        if prompt is not None and not found and not store.query(prompt=prompt):
            from promptloop.repo.prompts import list_prompt_paths

            known = sorted({p.stem for p in list_prompt_paths(config)} | store.prompts())
            if prompt not in known:  # a typo must not look like a prompt with no traffic
                raise fail(f"no prompt '{prompt}' in the repo or the trace store; known: {', '.join(known) or 'none'}")
    s = summarize(found)
    if as_json:
        sys.stdout.write(json.dumps(s, indent=2) + "\n")
        return
    from promptloop.render import render_trace_summary

    render_trace_summary(console(), s, prompt=prompt, failed=failed)


golden_app = typer.Typer(help="Work with golden sets.", no_args_is_help=True, rich_markup_mode=None,
                         cls=LoopOrder)
app.add_typer(golden_app, name="golden")


@golden_app.command("add")
@command
def golden_add(
    prompt: Annotated[str, typer.Argument(metavar="PROMPT", help="Prompt name.")],
    from_traces: Annotated[bool, typer.Option("--from-traces", help="Promote imported traces.")] = False,
    failed: Annotated[bool, typer.Option("--failed", help="Only failed traces.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, metavar="N", help="At most N new cases.")] = None,
    keep_personal_data: Annotated[bool, typer.Option(
        "--keep-personal-data", help="Keep e-mail addresses and phone numbers (masked by default).")] = False,
    include_inherited: Annotated[bool, typer.Option(
        "--include-inherited", help="Also traces judged only by feedback on their whole trace.")] = False,
) -> None:
    """Append traces to the prompt's golden set (corrections become expected values)."""
    from promptloop.traces.to_golden import promote

    if not from_traces:
        raise fail("say where the cases come from: --from-traces")
    r = promote(repo_config(), prompt, failed=failed, limit=limit, keep_personal_data=keep_personal_data,
                include_inherited=include_inherited)
    con = console()
    con.print(f"added {len(r.added) + len(r.review)} case(s) to {r.path}: {len(r.added)} with expected values, "
              f"{len(r.review)} marked `review: true` (fill in `expected`); skipped {len(r.skipped)}")
    if r.masked:
        con.print("masked personal data before it reaches git: " + ", ".join(f"{n} {k}" for k, n in r.masked.items())
                  + " (--keep-personal-data keeps it)")
    for s in r.skipped[:10]:
        con.print(f"  skipped {esc(s)}")


@app.command()
@command
def compare(
    prompt: Annotated[str, typer.Argument(metavar="PROMPT", help="Prompt name.")],
    versions: Annotated[tuple[str, str], typer.Option("--versions", help="Two versions: labels or git revisions.",
                                                      metavar="A B")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Canary comparison on imported traces: promote, hold, or not enough traffic."""
    from promptloop.traces.canary import compare as run_compare
    from promptloop.traces.canary import comparison_dict

    c = run_compare(repo_config(), prompt, versions[0], versions[1])
    if as_json:
        sys.stdout.write(json.dumps(comparison_dict(c), indent=2) + "\n")
        return
    from promptloop.render import render_comparison

    render_comparison(console(), c)
