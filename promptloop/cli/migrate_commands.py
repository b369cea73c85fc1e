"""Switching models: migrate."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from promptloop.cli.app import app, command, console, repo_config, run_with_client
from promptloop.cli.options import Jobs, NoCache


@app.command()
@command
def migrate(
    prompts: Annotated[list[str] | None, typer.Argument(metavar="[PROMPT]...", help="Prompts to judge (default: "
                                                                                   "every prompt).")] = None,
    to: Annotated[str, typer.Option("--to", metavar="MODEL", help="The model to switch to, as -m takes it "
                                                                  "(NAME or NAME@http://HOST/v1).")] = "",
    repeat: Annotated[int, typer.Option(min=1, metavar="N", help="Sample each case N times on each model.")] = 1,
    output: Annotated[list[Path] | None, typer.Option(
        "-o", "--output", metavar="FILE", help="Write report.json, .md or .junit.xml (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    optimize: Annotated[bool, typer.Option("--optimize", help="Where the switch is worse, optimise the prompt for "
                                                              "the new model and commit prompt and model together "
                                                              "on a branch when the gate then passes.")] = False,
    calls: Annotated[int | None, typer.Option("--budget-calls", min=0, metavar="N",
                                              help="Cap on paid calls of each --optimize run.")] = None,
    no_cache: NoCache = False,
    jobs: Jobs = None,
) -> None:
    """Does a prompt survive a switch of its model? Score its golden set on the current model and on --to.

    Per-case flips (fixed / broken), the gate's judgement of the difference (as regress judges a change), cost,
    tokens and latency side by side. Exit 0 safe, 1 worse, 2 a usage or input error, 3 model errors.
    """
    from promptloop import codec
    from promptloop.errors import UsageError
    from promptloop.flows.migrate import migrate as run_migrate
    from promptloop.render.migrate import render_migrate
    from promptloop.repo.config import ModelRef
    from promptloop.scoring.eval_run import path_kind
    from promptloop.scoring.reports import MIGRATE_WRITERS, migrate_dict

    if not to:
        raise UsageError("say which model to switch to: --to MODEL (e.g. --to openai/gpt-4.1-mini)")
    ModelRef.from_option(to)  # a mistyped endpoint is refused before anything runs
    paths = list(output or [])
    kinds = [path_kind(p) for p in paths]
    if any(k not in MIGRATE_WRITERS for k in kinds):
        raise UsageError("migrate writes .json, .md and .junit.xml reports")
    config = repo_config()
    report = run_with_client(config, lambda lm: run_migrate(config, lm, to=to, prompts=prompts or None,
                                                            repeat=repeat), no_cache=no_cache, jobs=jobs)
    if optimize:
        from promptloop.flows.migrate import repair
        from promptloop.optimize.outcome import Options

        options = Options.from_config(config, calls=calls, repeat=repeat)
        for m in [m for m in report.migrations if not m.verdict.ok]:
            def work(lm: Any, m: Any = m) -> Any:
                return repair(config, lm, m, to, options)

            m.repair = run_with_client(config, work, no_cache=no_cache, jobs=jobs, budget=options.budget())
    for path, kind in zip(paths, kinds, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(MIGRATE_WRITERS[kind](report), encoding="utf-8")
    if as_json:
        sys.stdout.write(codec.dumps(migrate_dict(report), indent=True) + "\n")
    else:
        render_migrate(console(), report)
    raise typer.Exit(report.exit_code)
