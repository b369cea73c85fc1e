"""The optimiser's commands: optimize, runs."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from promptloop.cli.app import app, command, console, esc, fail, repo_config, run_with_client
from promptloop.cli.options import Jobs, JudgeRepeat, NoCache


@app.command()
@command
def optimize(
    prompt: Annotated[str, typer.Argument(metavar="PROMPT", help="Prompt name (prompts/NAME.yaml) or path.")],
    rounds: Annotated[int | None, typer.Option(min=1, metavar="N",
                                               help="Rounds of candidates (default: budget.rounds).")] = None,
    candidates: Annotated[int | None, typer.Option(min=1, metavar="N", help="Candidates per round.")] = None,
    calls: Annotated[int | None, typer.Option("--budget-calls", min=0, metavar="N",
                                              help="Cap on paid model calls.")] = None,
    usd: Annotated[float | None, typer.Option("--budget-usd", min=0, metavar="X", help="Cap on spend in USD.")] = None,
    repeat: Annotated[int | None, typer.Option(min=1, metavar="N", help="Sample each case N times.")] = None,
    judge_repeat: JudgeRepeat = None,
    target: Annotated[float | None, typer.Option(min=0, max=1, metavar="X", help="Stop at this pass rate.")] = None,
    seed: Annotated[int, typer.Option(metavar="N", help="Seed for splits, demonstrations and the proposer.")] = 0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan and estimate; make no call.")] = False,
    prefer_cheaper: Annotated[bool, typer.Option(
        "--prefer-cheaper", help="Of two candidates whose pass rates do not differ significantly, keep the one "
        "cheaper per call (tokens where no price is known).")] = False,
    rewrite_tools: Annotated[bool, typer.Option(
        "--rewrite-tool-descriptions", help="Let candidates describe the prompt's tools anew (names and parameters "
        "never change).")] = False,
    no_commit: Annotated[bool, typer.Option("--no-commit", help="Report the winner without committing it.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
    no_cache: NoCache = False,
    jobs: Jobs = None,
) -> None:
    """Find a better prompt from its failures and commit it on a new branch.

    Exit 0 a better prompt (or --dry-run), 1 none qualifies, 2 a usage or input error, 3 model calls failed.
    """

    from promptloop.flows.optimize import optimize_prompt
    from promptloop.optimize.outcome import Options
    from promptloop.render.optimize import OptimizeView, optimize_json

    config = repo_config()
    options = Options.from_config(config, rounds=rounds, candidates=candidates, calls=calls, usd=usd,
                                  repeat=repeat, judge_repeat=judge_repeat, target=target, seed=seed,
                                  rewrite_tool_descriptions=rewrite_tools, prefer_cheaper=prefer_cheaper)
    view = OptimizeView(console(stderr=True), options, quiet=as_json)

    with view:
        report = run_with_client(config, lambda lm: optimize_prompt(
            config, prompt, options, client=lm, commit=not no_commit, dry_run=dry_run, on_event=view.event),
            no_cache=no_cache, jobs=jobs, budget=options.budget())
    if as_json:
        sys.stdout.write(json.dumps(optimize_json(report), indent=2, default=str) + "\n")
    else:
        view.final(console(), report)
    outcome = report.outcome
    raise typer.Exit(0 if outcome.improved or dry_run else (3 if outcome.model_errors else 1))


@app.command()
@command
def runs(
    run_id: Annotated[str | None, typer.Argument(metavar="[show|apply] ID", help="Show one run, or apply its "
                                                 "winner.")] = None,
    detail: Annotated[str | None, typer.Argument(hidden=True)] = None,
) -> None:
    """List optimisation runs (`promptloop runs`), show one (`promptloop runs show ID`, or `last`), or commit
    a run's saved winner on a new branch (`promptloop runs apply ID`)."""
    from promptloop.optimize.runlog import list_runs
    from promptloop.render.optimize import render_run, render_runs

    config = repo_config()
    all_runs = list_runs(config.cache_dir)
    wanted = detail if run_id in ("show", "apply") else run_id
    if wanted is None:
        render_runs(console(), all_runs)
        return
    # "last": the newest run (list_runs is newest first), as `eval --compare last` names the last eval
    match = all_runs[:1] if wanted == "last" else [r for r in all_runs if r["id"] == wanted or
                                                   r["id"].startswith(wanted)]
    if not match:
        raise fail(f"no run '{wanted}' in {config.cache_dir / 'runs'}; `promptloop runs` lists them")
    if run_id == "apply":
        from promptloop.flows.optimize import apply_run

        s = apply_run(config, match[0])
        console().print(f"committed {s.commit[:10]} on branch [bold]{esc(s.branch)}[/] (your checkout is unchanged); "
                        f"push it: {esc(s.push)}")
        return
    render_run(console(), match[0])
