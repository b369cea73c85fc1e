"""``promptloop optimize`` and ``runs apply``: optimise a prompt under its client's budget, keep the run
log, and commit the winner on a new branch (the working tree is never touched)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from promptloop.errors import GitError, Interrupted, PromptloopError, UsageError
from promptloop.git.commits import check_committed, open_repo
from promptloop.model.client import ModelClient
from promptloop.optimize.events import Event, Watcher
from promptloop.optimize.outcome import Options, Outcome
from promptloop.optimize.publish import Shipped, Winner, ship
from promptloop.optimize.runlog import RunLog
from promptloop.optimize.search import Optimizer
from promptloop.repo.config import Config
from promptloop.repo.prompts import Case, GoldenSet, Prompt
from promptloop.repo.tools import tools_file
from promptloop.scoring.eval_run import load_task
from promptloop.traces.to_golden import trace_failures


@dataclass
class OptimizeReport:
    outcome: Outcome
    run_id: str
    shipped: Shipped | None = None


def committed_files(prompt: Prompt, golden: GoldenSet) -> list[Path]:
    """The files a winner's commit is built on: they must match HEAD, or the branch would drop local edits."""
    raw = prompt.data.get("tools")
    return [prompt.path, golden.path, *([tools_file(prompt.path, raw)] if isinstance(raw, str) else [])]


async def optimize_prompt(config: Config, prompt_name: str, options: Options, *, client: ModelClient,
                          commit: bool = True, dry_run: bool = False, on_event: Watcher | None = None,
                          extra_failures: list[Case] | None = None,
                          model: dict[str, Any] | None = None) -> OptimizeReport:
    """Optimise ``prompt_name`` (for the ``model:`` setting ``model`` when given: a migration's target);
    commit the winner on a new branch when there is one."""
    prompt, golden = load_task(config, prompt_name)
    if model is not None:
        prompt = Prompt(prompt.name, prompt.path, {**prompt.data, "model": model})
    repo = None
    if commit and not dry_run:
        repo = open_repo(config.root)
        check_committed(repo, committed_files(prompt, golden))
    log = RunLog(config.cache_dir, prompt.name)

    def emit(event: Event) -> None:
        log.event(event)
        if on_event:
            on_event(event)

    if extra_failures is None:
        extra_failures = trace_failures(config, prompt, golden)
    opt = Optimizer(config, prompt, golden, client, options, extra_failures=extra_failures, on_event=emit)
    if dry_run:  # no call, nothing to keep: `promptloop runs` lists runs that did something
        return OptimizeReport(await opt.run(dry_run=True), "", None)
    try:
        outcome = await opt.run()
    except BaseException as e:  # Ctrl-C, a failed baseline: the run log says so instead of "running" forever
        log.abort("interrupted" if isinstance(e, (KeyboardInterrupt, asyncio.CancelledError, Interrupted))
                  else f"failed: {e}")
        raise
    shipped = None
    models = {"task": opt.model.name, "proposer": opt.proposer.name}
    if outcome.winner is not None:
        # Saved before committing: a failed commit must not lose what the budget paid for.
        record = outcome.winner_record()
        record.model = model  # a migration's target: `runs apply` then commits the switch with the prompt
        log.data["winner_record"] = asdict(record)
        log.data["ship"] = {"models": models, "seed": options.seed, "prefix": config.branch_prefix}
    if outcome.winner is not None and repo is not None:
        try:
            shipped = ship(repo, outcome.winner_record(), prompt, golden, prefix=config.branch_prefix,
                           models=models, seed=options.seed, run_id=log.id)
        except (PromptloopError, OSError) as e:
            log.finish(outcome, {"branch": None, "commit": None, "commit_error": str(e)})
            raise GitError(f"the winner could not be committed ({e}); it is saved in the run log: fix that, then "
                           f"`promptloop runs apply {log.id}` commits it on a new branch") from None
    log.finish(outcome, {"branch": shipped.branch if shipped else None,
                         "commit": shipped.commit if shipped else None})
    return OptimizeReport(outcome, log.id, shipped)


def apply_run(config: Config, run: dict[str, Any], *, now: Any = None) -> Shipped:
    """Commit a finished run's saved winner on a new branch (``promptloop runs apply ID``)."""
    record = run.get("winner_record")
    if not record:
        raise UsageError(f"run {run['id']} has no winner to apply (status: {run.get('status', 'unknown')})")
    prompt, golden = load_task(config, run["prompt"])
    repo = open_repo(config.root)
    check_committed(repo, committed_files(prompt, golden))
    ship_args = run.get("ship") or {}
    return ship(repo, Winner(**record), prompt, golden, prefix=ship_args.get("prefix", config.branch_prefix),
                models=ship_args.get("models", {"task": "unknown", "proposer": "unknown"}),
                seed=int(ship_args.get("seed", 0)), run_id=run["id"], now=now)
