"""The command line: each command parses, calls one core function, renders, returns an exit code."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from promptloop.errors import PromptloopError

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
                  help="promptloop: prompt engineering as an engineering loop that lives in git.")
_state: dict[str, Path] = {"dir": Path(".")}
F = TypeVar("F", bound=Callable[..., Any])


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    _console(stderr=True).print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    return typer.Exit(code)


def command(fn: F) -> F:
    """Turn promptloop errors into one line and an exit code; never a traceback for a user error."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PromptloopError as e:
            raise fail(_escape(str(e)), e.exit_code) from None
        except OSError as e:  # a file the user named cannot be read or written
            where = f"{e.filename}: " if e.filename else ""
            raise fail(_escape(f"{where}{e.strerror or e}"), 2) from None
        except KeyboardInterrupt:
            raise fail("interrupted; every finished model call is cached, so rerunning continues "
                       "where this stopped", 130) from None

    return wrapper  # type: ignore[return-value]


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _config() -> Any:
    from promptloop.repo.config import load_config

    return load_config(_state["dir"])


@app.callback()
def main(directory: Annotated[Path | None, typer.Option(
        "-C", help="Run as if promptloop was started in DIR (like git -C).", metavar="DIR")] = None) -> None:
    if directory is not None and not directory.is_dir():
        raise fail(f"-C {directory}: no such directory")
    _state["dir"] = directory or Path(".")


@app.command()
@command
def init(directory: Annotated[Path, typer.Argument(help="Where to create the prompt repo.")] = Path(".")) -> None:
    """Create a prompt repo: promptloop.yaml, an example prompt and golden set, .gitignore."""
    from promptloop.repo.scaffold import scaffold

    base = directory if directory.is_absolute() else _state["dir"] / directory
    created, kept = scaffold(base)
    con = _console()
    for p in created:
        con.print(f"created {p}")
    for p in kept:
        con.print(f"kept    {p} (already there)")
    con.print(f"next: cd {base} && promptloop eval sentiment")


@app.command()
@command
def validate() -> None:
    """Check promptloop.yaml, every prompt and every golden set, offline (exit 0 or 2)."""
    from promptloop.repo.prompts import validate_repo

    checked, errors = validate_repo(_config())
    if errors:
        err = _console(stderr=True)
        for e in errors:
            err.print(f"[bold red]error:[/] {_escape(str(e))}")
        raise typer.Exit(2)
    _console().print(f"ok: {checked} files valid")


@app.command()
@command
def schema(name: Annotated[str, typer.Argument(help="prompt, golden, config or trace")]) -> None:
    """Print a file format's JSON Schema (for editors and other tools)."""
    from promptloop.repo.files import SCHEMA_NAMES
    from promptloop.repo.files import schema as get

    if name not in SCHEMA_NAMES:
        raise fail(f"no schema '{name}'; use one of: {', '.join(SCHEMA_NAMES)}")
    sys.stdout.write(json.dumps(get(name), indent=2) + "\n")


@app.command("eval")
@command
def eval_(
    prompt: Annotated[str, typer.Argument(help="Prompt name (prompts/NAME.yaml) or path.")],
    golden: Annotated[str | None, typer.Option("--golden", "-g", help="Golden set name or path.")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Override the task model.")] = None,
    repeat: Annotated[int, typer.Option(min=1, help="Sample each case N times.")] = 1,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first K cases.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    output: Annotated[list[Path] | None, typer.Option(
        "-o", "--output", help="Write report.json, report.md or report.junit.xml (repeatable).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Call the model even for cached requests.")] = False,
) -> None:
    """Score a prompt on its golden set.

    Exit 0 ok, 1 a threshold missed, 2 a usage or input error, 3 model calls failed for some cases.
    """
    from promptloop.scoring.eval_run import path_kind, run_eval
    from promptloop.scoring.reports import WRITERS, to_json

    config = _config()
    if as_json:
        report = run_eval(config, prompt, golden=golden, model=model, repeat=repeat, limit=limit,
                          no_cache=no_cache)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("[bold]eval[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=_console(stderr=True), transient=True) as bar:
            task = bar.add_task(prompt, total=None)
            report = run_eval(config, prompt, golden=golden, model=model, repeat=repeat, limit=limit,
                              no_cache=no_cache,
                              progress=lambda done, total: bar.update(task, completed=done, total=total))
    for path in output or []:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(WRITERS[path_kind(path)](report), encoding="utf-8")
    if as_json:
        sys.stdout.write(to_json(report) + "\n")
    else:
        from promptloop.render import render_eval

        render_eval(_console(), report)
        for path in output or []:
            _console().print(f"wrote {path}")
    raise typer.Exit(report.exit_code)


@app.command()
@command
def models() -> None:
    """Show each configured model and whether it can be used now, with the fix when not."""
    from promptloop.model.client import model_status
    from promptloop.render import render_models
    from promptloop.repo.prompts import list_prompt_paths, load_prompt

    config = _config()
    rows: dict[tuple[str, str | None], list[str]] = {}
    for role in ("task", "proposer", "judge"):
        ref = config.model(role)
        rows.setdefault((ref.name, ref.api_base), []).append(role)
    for path in list_prompt_paths(config):
        try:
            settings = load_prompt(config, str(path)).model_settings
        except PromptloopError:
            continue
        if settings.get("name"):
            rows.setdefault((settings["name"], settings.get("api_base")), []).append(f"prompt {path.stem}")
    statuses = [(name, users, *model_status(name, base)) for (name, base), users in rows.items()]
    render_models(_console(), statuses)
    raise typer.Exit(0 if all(ok for _, _, ok, _ in statuses) else 2)


@app.command()
@command
def optimize(
    prompt: Annotated[str, typer.Argument(help="Prompt name (prompts/NAME.yaml) or path.")],
    rounds: Annotated[int | None, typer.Option(min=1, help="Rounds of candidates (default: budget.rounds).")] = None,
    candidates: Annotated[int | None, typer.Option(min=1, help="Candidates per round.")] = None,
    calls: Annotated[int | None, typer.Option("--budget-calls", min=0, help="Cap on paid model calls.")] = None,
    usd: Annotated[float | None, typer.Option("--budget-usd", min=0, help="Cap on spend in USD.")] = None,
    repeat: Annotated[int | None, typer.Option(min=1, help="Sample each case N times.")] = None,
    target: Annotated[float | None, typer.Option(min=0, max=1, help="Stop at this pass rate.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for splits, demonstrations and the proposer.")] = 0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan and estimate; make no call.")] = False,
    no_commit: Annotated[bool, typer.Option("--no-commit", help="Report the winner without committing it.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Find a better prompt from its failures and commit it on a new branch.

    Exit 0 a better prompt (or --dry-run), 1 none qualifies, 2 a usage or input error, 3 model calls failed.
    """
    import asyncio

    from promptloop.optimize.search import Options, optimize_prompt
    from promptloop.render import OptimizeView, optimize_json
    from promptloop.scoring.eval_run import open_client

    config = _config()
    options = Options.from_config(config, rounds=rounds, candidates=candidates, calls=calls, usd=usd,
                                  repeat=repeat, target=target, seed=seed)
    view = OptimizeView(_console(stderr=True), options, quiet=as_json)

    async def go() -> Any:
        async with open_client(config) as lm:
            return await optimize_prompt(config, prompt, options, client=lm, commit=not no_commit,
                                         dry_run=dry_run, on_event=view.event)

    with view:
        report = asyncio.run(go())
    if as_json:
        sys.stdout.write(json.dumps(optimize_json(report), indent=2, default=str) + "\n")
    else:
        view.final(_console(), report)
    outcome = report.outcome
    raise typer.Exit(0 if outcome.improved or dry_run else (3 if outcome.model_errors else 1))


@app.command()
@command
def runs(
    run_id: Annotated[str | None, typer.Argument(metavar="[show] ID", help="Show one run.")] = None,
    detail: Annotated[str | None, typer.Argument(hidden=True)] = None,
) -> None:
    """List optimisation runs (`promptloop runs`), or show one (`promptloop runs show ID`)."""
    from promptloop.optimize.runlog import list_runs
    from promptloop.render import render_run, render_runs

    config = _config()
    all_runs = list_runs(config.cache_dir)
    wanted = detail if run_id == "show" else run_id
    if wanted is None:
        render_runs(_console(), all_runs)
        return
    match = [r for r in all_runs if r["id"] == wanted or r["id"].startswith(wanted)]
    if not match:
        raise fail(f"no run '{wanted}' in {config.cache_dir / 'runs'}; `promptloop runs` lists them")
    render_run(_console(), match[0])


def _default_base() -> str:
    from promptloop.git.commits import commit_sha, open_repo

    repo = open_repo(_config().root)
    for ref in ("origin/HEAD", "origin/main", "origin/master", "main", "master"):
        if commit_sha(repo, ref):
            return ref
    raise fail("no base to compare with: pass --base REF (e.g. --base origin/main)")


@app.command()
@command
def regress(
    prompts: Annotated[list[str] | None, typer.Argument(help="Only these prompts (default: all changed).")] = None,
    base: Annotated[str | None, typer.Option(help="Compare with the merge-base of REF and HEAD.",
                                             metavar="REF")] = None,
    repeat: Annotated[int | None, typer.Option(min=1, help="Samples per case (default: regress.repeats).")] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML: one test case per golden case.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write a Markdown report.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """CI gate: fail (exit 1) when a changed prompt regresses its golden set."""
    import asyncio
    import os

    from promptloop.git.regress import regress as run_regress
    from promptloop.render import render_regress
    from promptloop.scoring.eval_run import open_client
    from promptloop.scoring.reports import regress_dict, regress_junit, regress_markdown

    config = _config()
    ref = base or _default_base()

    async def go() -> Any:
        async with open_client(config) as lm:
            return await run_regress(config, lm, base=ref, prompts=prompts or None, repeat=repeat)

    report = asyncio.run(go())
    md = regress_markdown(report)
    if junit:
        junit.write_text(regress_junit(report), encoding="utf-8")
    if markdown:
        markdown.write_text(md, encoding="utf-8")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(md + "\n")
    if as_json:
        sys.stdout.write(json.dumps(regress_dict(report), indent=2, default=str) + "\n")
    else:
        render_regress(_console(), report)
    raise typer.Exit(0 if report.ok else 1)


@app.command("log")
@command
def log_(prompt: Annotated[str, typer.Argument(help="Prompt name.")]) -> None:
    """The versions of a prompt from git history, with recorded scores."""
    from promptloop.git.history import versions
    from promptloop.render import render_versions

    render_versions(_console(), versions(_config(), prompt))


@app.command()
@command
def diff(
    prompt: Annotated[str, typer.Argument(help="Prompt name.")],
    a: Annotated[str | None, typer.Argument(help="Older revision (default HEAD).")] = None,
    b: Annotated[str | None, typer.Argument(help="Newer revision (default the working tree).")] = None,
) -> None:
    """The prompt text diff between two versions, with their score deltas when known."""
    from promptloop.git.history import diff as prompt_diff
    from promptloop.render import render_diff

    render_diff(_console(), prompt_diff(_config(), prompt, a, b))


@app.command()
@command
def rollback(
    prompt: Annotated[str, typer.Argument(help="Prompt name.")],
    to: Annotated[str, typer.Option("--to", help="The revision to bring back.", metavar="REV")],
    branch: Annotated[bool, typer.Option("--branch", help="Commit it on a new branch instead of the working "
                                                           "tree.")] = False,
) -> None:
    """Bring an old version back as an ordinary change; history is never rewritten."""
    from promptloop.git.history import rollback as do_rollback

    r = do_rollback(_config(), prompt, to, branch=branch)
    con = _console()
    if r.branch:
        con.print(f"committed {r.commit[:10] if r.commit else ''} on branch {_escape(r.branch)} restoring {r.rel} "
                  f"at {r.rev[:10]}; push it: git push -u origin {_escape(r.branch)}")
    else:
        con.print(f"restored {r.rel} as at {r.rev[:10]} in the working tree; review with `git diff`, then commit")


@app.command("import")
@command
def import_(
    files: Annotated[list[Path], typer.Argument(help="JSONL, JSON or .gz exports (and VCR cassettes).")],
    fmt: Annotated[str, typer.Option("--format", help="auto, or one of: promptloop, openai_log, openai_batch, "
                                     "openai_completion, openai_eval, otlp, genai_attributes, openinference, "
                                     "langfuse, langsmith, mlflow, mlflow_assessment.")] = "auto",
    prompt: Annotated[str | None, typer.Option(help="Attribute every trace to this prompt.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import production traces into the local trace store (idempotent)."""
    from promptloop.traces.formats import FORMATS
    from promptloop.traces.importer import import_files, summary_dict

    if fmt != "auto" and fmt not in FORMATS:
        raise fail(f"--format {fmt}: unknown; use auto or one of: {', '.join(FORMATS)}")
    s = import_files(_config(), files, fmt=fmt, prompt=prompt)
    if as_json:
        sys.stdout.write(json.dumps(summary_dict(s), indent=2) + "\n")
        return
    from promptloop.render import render_import

    render_import(_console(), _console(stderr=True), s)


@app.command()
@command
def traces(
    prompt: Annotated[str | None, typer.Argument(help="Only this prompt's traces.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only failed traces.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Counts by verdict, prompt version and model; top failure reasons; latency and cost percentiles."""
    from promptloop.traces.store import TraceStore, store_path, summarize

    config = _config()
    with TraceStore(store_path(config.cache_dir)) as store:
        found = store.query(prompt=prompt, verdict="fail" if failed else None)
    s = summarize(found)
    if as_json:
        sys.stdout.write(json.dumps(s, indent=2) + "\n")
        return
    from promptloop.render import render_trace_summary

    render_trace_summary(_console(), s, prompt=prompt, failed=failed)


golden_app = typer.Typer(help="Work with golden sets.", no_args_is_help=True)
app.add_typer(golden_app, name="golden")


@golden_app.command("add")
@command
def golden_add(
    prompt: Annotated[str, typer.Argument(help="Prompt name.")],
    from_traces: Annotated[bool, typer.Option("--from-traces", help="Promote imported traces.")] = False,
    failed: Annotated[bool, typer.Option("--failed", help="Only failed traces.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="At most N new cases.")] = None,
) -> None:
    """Append traces to the prompt's golden set (corrections become expected values)."""
    from promptloop.traces.to_golden import promote

    if not from_traces:
        raise fail("say where the cases come from: --from-traces")
    r = promote(_config(), prompt, failed=failed, limit=limit)
    con = _console()
    con.print(f"added {len(r.added) + len(r.review)} case(s) to {r.path}: {len(r.added)} with expected values, "
              f"{len(r.review)} marked `review: true` (fill in `expected`); skipped {len(r.skipped)}")
    for s in r.skipped[:10]:
        con.print(f"  skipped {_escape(s)}")


@app.command()
@command
def compare(
    prompt: Annotated[str, typer.Argument(help="Prompt name.")],
    versions: Annotated[tuple[str, str], typer.Option("--versions", help="Two versions: labels or git revisions.",
                                                      metavar="A B")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Canary comparison on imported traces: promote, hold, or not enough traffic."""
    from promptloop.traces.canary import compare as run_compare
    from promptloop.traces.canary import comparison_dict

    c = run_compare(_config(), prompt, versions[0], versions[1])
    if as_json:
        sys.stdout.write(json.dumps(comparison_dict(c), indent=2) + "\n")
        return
    from promptloop.render import render_comparison

    render_comparison(_console(), c)


def run() -> None:
    app()


if __name__ == "__main__":
    run()
