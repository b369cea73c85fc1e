"""Scoring commands: eval, and regress (the CI gate)."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from promptloop.cli import options
from promptloop.cli.app import app, command, console, esc, fail, repo_config, run_with_client
from promptloop.cli.options import ExcludeTags, Jobs, JudgeRepeat, Keyword, NoCache, Sample, Seed, Tags


@app.command("eval")
@command
def eval_(
    prompts: Annotated[list[str] | None, typer.Argument(
        metavar="PROMPT", help="Prompt names (prompts/NAME.yaml) or paths; none means every prompt.")] = None,
    golden: Annotated[str | None, typer.Option("--golden", "-g", metavar="TEXT",
                                               help="Golden set name or path.")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", "-m", metavar="NAME[@URL]",
        help="Override the task model; NAME@http://host/v1 also says where it is served.")] = None,
    repeat: Annotated[int, typer.Option(min=1, metavar="N", help="Sample each case N times.")] = 1,
    judge_repeat: JudgeRepeat = None,
    limit: Annotated[int | None, typer.Option(min=1, metavar="N", help="Only the first K cases.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    output: Annotated[list[Path] | None, typer.Option(
        "-o", "--output", metavar="FILE", help="Write report.json, .md, .junit.xml or .html (repeatable).")] = None,
    no_cache: NoCache = False,
    jobs: Jobs = None,
    shard: Annotated[str | None, typer.Option(
        "--shard", metavar="I/N", help="Only shard I of N (by case id); gate on `promptloop merge` of all N.")] = None,
    keyword: Keyword = None,
    tag: Tags = None,
    exclude_tag: ExcludeTags = None,
    sample: Sample = None,
    seed: Seed = 0,
    failed: Annotated[bool, typer.Option("--failed", help="Only the cases that failed (or errored) last run.")] = False,
    compare: Annotated[str | None, typer.Option(
        "--compare", metavar="last|ID", help="Print the cases that flipped since an earlier run of it.")] = None,
) -> None:
    """Score prompts on their golden sets (every prompt when none is named).

    Exit 0 ok, 1 a threshold missed, 2 a usage or input error, 3 model calls failed for some cases.
    """
    from promptloop.flows.eval import EvalOptions, evaluate
    from promptloop.scoring.shards import parse_shard

    config = repo_config()
    asked = EvalOptions(prompts=tuple(prompts or ()), golden=golden, model=model, repeat=repeat,
                        judge_repeat=judge_repeat, limit=limit,
                        shard=parse_shard(shard) if shard else None, failed=failed, compare=compare,
                        selection=options.selection(keyword, tag, exclude_tag, sample, seed),
                        outputs=tuple(str(p) for p in output or []))
    if as_json:
        outcomes = run_with_client(config, lambda lm: evaluate(config, asked, client=lm), no_cache=no_cache,
                                   jobs=jobs)
    else:
        with progress_bars("eval") as progress:
            outcomes = run_with_client(config, lambda lm: evaluate(config, asked, client=lm, progress=progress),
                                       no_cache=no_cache, jobs=jobs)
    for o in outcomes:
        for why in o.warnings:
            console(stderr=True).print(f"[yellow]warning:[/] {esc(o.report.prompt)}: {esc(why)}")
        if not as_json and o.earlier is not None and o.flips is not None:
            render_flips(o.earlier.id, o.flips)
    finish_evals([o.report for o in outcomes], output, as_json)


def finish_evals(reports: list[Any], output: list[Path] | None, as_json: bool) -> None:
    """One prompt: as ``finish_eval``. Several: a report file per prompt, and the worst exit code."""
    if len(reports) == 1:
        finish_eval(reports[0], output, as_json)
    for report in reports:
        write_reports(report, [per_prompt(path, report.prompt) for path in output or []], quiet=as_json)
        if not as_json:
            from promptloop.render import render_eval

            render_eval(console(), report)
    if as_json:
        from promptloop import codec
        from promptloop.scoring.eval_run import report_dict

        sys.stdout.write(codec.dumps([report_dict(r) for r in reports], indent=True) + "\n")
    codes = {r.exit_code for r in reports}
    raise typer.Exit(1 if 1 in codes else 3 if 3 in codes else 0)


@contextlib.contextmanager
def progress_bars(verb: str) -> Iterator[Callable[[str], Any]]:
    """Transient progress bars on stderr, one per prompt: ``progress(name)`` gives a prompt's callback."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(f"[bold]{verb}[/] {{task.description}}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console(stderr=True), transient=True) as bar:
        def start(name: str) -> Callable[[int, int], None]:
            task = bar.add_task(esc(name), total=None)
            return lambda done, total: bar.update(task, completed=done, total=total)

        yield start


def render_flips(earlier_id: int, changed: dict[str, list[str]]) -> None:
    console().print(f"since run {earlier_id}: {len(changed['fixed'])} fixed, {len(changed['broke'])} broke"
                    + "".join(f"\n  [green]fixed[/] {esc(c)}" for c in changed["fixed"][:20])
                    + "".join(f"\n  [red]broke[/] {esc(c)}" for c in changed["broke"][:20]))


def per_prompt(path: Path, prompt: str) -> Path:
    """report.md -> report.trec.md, report.junit.xml -> report.trec.junit.xml: one file per prompt."""
    head, dot, rest = path.name.partition(".")
    return path.with_name(f"{head}.{prompt}{dot}{rest}" if dot else f"{head}.{prompt}")


def write_reports(report: Any, paths: list[Path], *, quiet: bool) -> None:
    from promptloop.scoring.eval_run import path_kind
    from promptloop.scoring.reports import WRITERS

    kinds = [path_kind(path) for path in paths]  # every name checked before anything is written
    for path, kind in zip(paths, kinds, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(WRITERS[kind](report), encoding="utf-8")
        if not quiet:
            console().print(f"wrote {path}")


def finish_eval(report: Any, output: list[Path] | None, as_json: bool) -> None:
    """Write the reports asked for, show the result, exit with its code (eval and merge alike)."""
    from promptloop.scoring.reports import to_json

    if as_json:
        write_reports(report, list(output or []), quiet=True)
        sys.stdout.write(to_json(report) + "\n")
    else:
        from promptloop.render import render_eval

        render_eval(console(), report)
        write_reports(report, list(output or []), quiet=False)
    raise typer.Exit(report.exit_code)


@app.command()
@command
def merge(
    reports: Annotated[list[Path], typer.Argument(
        metavar="REPORT", help="The shards' JSON reports (eval --shard I/N --json).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the merged report as JSON.")] = False,
    output: Annotated[list[Path] | None, typer.Option(
        "-o", "--output", metavar="FILE", help="Write report.json, .md, .junit.xml or .html (repeatable).")] = None,
) -> None:
    """Merge the shards of one eval (or one regress) into one report, judged like an unsharded run."""
    from promptloop.scoring.merge import merge_eval

    docs = []
    for path in reports:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise fail(f"{path}: not a JSON report ({e}); write shards with `eval --shard I/N --json`") from None
        needed = ("base", "merge_base", "prompts") if isinstance(doc, dict) and "merge_base" in doc else \
            ("prompt", "golden", "model", "repeat", "results")
        if not isinstance(doc, dict) or any(k not in doc for k in needed):
            raise fail(f"{path}: not the JSON report of one eval or regress shard; write shards with "
                       "`eval --shard I/N --json` (or `regress --shard I/N --json`)")
        docs.append(doc)
    if all(isinstance(d, dict) and "merge_base" in d for d in docs):  # regress shards
        from promptloop.scoring.gate import merge_regress

        outs = output or []
        junit = next((p for p in outs if p.name.endswith(".xml")), None)
        markdown = next((p for p in outs if p.name.endswith(".md")), None)
        finish_regress(merge_regress(docs), junit, markdown, as_json)
    finish_eval(merge_eval(docs), output, as_json)


def _default_base() -> str:
    from promptloop.git.commits import commit_sha, open_repo

    repo = open_repo(repo_config().root)
    for ref in ("origin/HEAD", "origin/main", "origin/master", "main", "master"):
        if commit_sha(repo, ref):
            return ref
    raise fail("no base to compare with: pass --base REF (e.g. --base origin/main)")


@app.command()
@command
def regress(
    prompts: Annotated[list[str] | None, typer.Argument(
        metavar="PROMPT", help="Only these prompts (default: all changed).")] = None,
    base: Annotated[str | None, typer.Option(help="Compare with the merge-base of REF and HEAD.",
                                             metavar="REF")] = None,
    repeat: Annotated[int | None, typer.Option(min=1, metavar="N",
                                               help="Samples per case (default: regress.repeats).")] = None,
    judge_repeat: JudgeRepeat = None,
    junit: Annotated[Path | None, typer.Option(metavar="FILE",
                                               help="Write JUnit XML: one test case per golden case.")] = None,
    markdown: Annotated[Path | None, typer.Option(metavar="FILE", help="Write a Markdown report.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    shard: Annotated[str | None, typer.Option(
        "--shard", metavar="I/N", help="Only shard I of N of each golden set; gate on `promptloop merge`.")] = None,
    github: Annotated[bool, typer.Option("--github", help="In GitHub Actions: ::error annotations on regressed "
                                                          "cases and one PR comment, kept up to date.")] = False,
    no_cache: NoCache = False,
    jobs: Jobs = None,
    keyword: Keyword = None,
    tag: Tags = None,
    exclude_tag: ExcludeTags = None,
    sample: Sample = None,
    seed: Seed = 0,
) -> None:
    """CI gate: fail (exit 1) when a changed prompt regresses its golden set.

    A prompt counts as changed when its file, its golden set, promptloop.yaml (models, thresholds) or a
    python check module it uses changed. Exit 0 pass, 1 regression, 2 usage or input error, 3 model errors.
    """
    from promptloop.flows.regress import regress as run_regress
    from promptloop.scoring.shards import parse_shard

    config = repo_config()
    ref = base or _default_base()
    which = parse_shard(shard) if shard else None
    selection = options.selection(keyword, tag, exclude_tag, sample, seed)
    def gate(progress: Any = None) -> Any:
        return run_with_client(config, lambda lm: run_regress(
            config, lm, base=ref, prompts=prompts or None, repeat=repeat, shard=which, selection=selection,
            progress=progress, judge_repeat=judge_repeat), no_cache=no_cache, jobs=jobs)

    if as_json:
        report = gate()
    else:
        with progress_bars("regress") as progress:
            report = gate(progress)
    if github:
        from promptloop.ci.github import comment_body, error_annotations, post_comment

        # The runner reads workflow commands on stdout and stderr alike; with --json, stdout is the JSON's.
        out = sys.stderr if as_json else sys.stdout
        for line in error_annotations(config, report):
            out.write(line + "\n")
        console(stderr=True).print(esc(post_comment(comment_body(report))))
    finish_regress(report, junit, markdown, as_json)


def finish_regress(report: Any, junit: Path | None, markdown: Path | None, as_json: bool) -> None:
    import os

    from promptloop.render import render_regress
    from promptloop.scoring.reports import regress_dict, regress_junit, regress_markdown

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
        from promptloop import codec

        sys.stdout.write(codec.dumps(regress_dict(report), indent=True) + "\n")
    else:
        render_regress(console(), report)
    raise typer.Exit(report.exit_code)


@app.command()
@command
def history(
    prompt: Annotated[str | None, typer.Argument(metavar="[PROMPT|show ID]", help="Only this prompt's runs.")] = None,
    run_id: Annotated[str | None, typer.Argument(hidden=True)] = None,
) -> None:
    """Earlier eval runs with their revision and metrics (`history show ID`: one run's cases)."""
    from promptloop.scoring import runs as eval_runs

    config = repo_config()
    if prompt == "show":
        if not run_id or not run_id.isdigit():
            raise fail("usage: promptloop history show ID")
        r = eval_runs.get(config.cache_dir, int(run_id))
        console().print(f"run {r.id}: {esc(r.prompt)} with {esc(r.model)} at {esc(str(r.revision or '?')[:10])}"
                        + (" (dirty)" if r.dirty else ""))
        for case, status in r.cases.items():
            console().print(f"  {esc(case)}: {status}")
        return
    found = eval_runs.runs(config.cache_dir, prompt)
    if found:
        console().print(f"{'run':>5}  {'when':<16}  prompt  revision  model  pass rate", style="bold")
    else:
        console().print("no eval runs yet" + (f" of {esc(prompt)}" if prompt else "")
                        + "; `promptloop eval` records each")
    for r in found:
        rate = r.metrics.get("pass_rate")
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.time))
        console().print(f"{r.id:>5}  {when}  {esc(r.prompt)}  {esc(str(r.revision or '?')[:10])}"
                        f"{'+dirty' if r.dirty else ''}  {esc(r.model)}  pass rate "
                        + ("–" if rate is None else f"{rate:.3f}"))
