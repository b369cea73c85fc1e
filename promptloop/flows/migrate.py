"""``promptloop migrate``: does a prompt survive a switch of its model? Score the golden set on the current
model and on the target in one run (both cached), classify every case as ``regress`` does (fixed, broken as
"regressed", still passing, still failing), judge the switch with the gate's rule, and set cost, tokens and
latency of the two models side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tabulate import tabulate

from promptloop.flows.optimize import committed_files, optimize_prompt
from promptloop.flows.regress import classify
from promptloop.git.commits import check_committed, open_repo
from promptloop.model.client import ModelClient
from promptloop.optimize.events import Watcher
from promptloop.optimize.outcome import Options
from promptloop.optimize.publish import Shipped, ship
from promptloop.repo.config import Config, ModelRef
from promptloop.repo.prompts import Prompt, list_prompt_paths
from promptloop.scoring.eval_run import evaluate_prompt, load_task
from promptloop.scoring.evaluate import Progress, task_model
from promptloop.scoring.gate import PromptVerdict, gate
from promptloop.scoring.migration import MigrateReport, Migration, Side, target_option


async def migrate(config: Config, client: ModelClient, *, to: str, prompts: list[str] | None = None,
                  repeat: int = 1, progress: Progress | None = None) -> MigrateReport:
    """Judge the switch to ``to`` for each of ``prompts`` (every prompt of the repo when none is named)."""
    names = prompts or [p.stem for p in list_prompt_paths(config)]
    report = MigrateReport(to)
    for name in names:
        prompt, golden = load_task(config, name)
        current = target_option(task_model(prompt, config))
        sides = [Side(model, await evaluate_prompt(config, prompt, golden, client=client, model=model,
                                                   repeat=repeat, progress=progress)) for model in (current, to)]
        v = PromptVerdict(prompt.name, "model-change", notes=[f"{sides[0].model} -> {sides[1].model}",
                                                             *calibration_note(prompt, to)])
        cases = [c for c in golden.cases if c.id not in set(prompt.example_ids)]
        classify(v, cases, sides[0].report.results, sides[1].report.results)
        gate(v, config.regress, repeat)
        report.migrations.append(Migration(prompt.name, sides[0], sides[1], v))
    return report


@dataclass
class Repair:
    """``migrate --optimize`` for one prompt: the target model with an optimised prompt, judged against the
    current model as the switch was, and committed (prompt and model together) when the gate passes."""

    prompt: str
    optimised: Side | None = None
    verdict: PromptVerdict | None = None
    shipped: Shipped | None = None
    why: str = ""  # why nothing was committed


def calibration_note(prompt: Prompt, to: str) -> list[str]:
    """What the switch does to the prompt's calibration: fitted for one model, it does not apply to another."""
    calibration = prompt.output.get("calibration")
    target = ModelRef.from_option(to).name
    if not calibration or calibration.get("model") == target:
        return []
    return [f"its label calibration was fitted for {calibration.get('model')} and does not apply to {target}; "
            f"`migrate --optimize` fits one if {target} scores its labels (the embedded model does)"]


def model_block(current: dict[str, Any], to: str) -> dict[str, Any]:
    """The prompt's ``model:`` setting for the target: its sampling settings kept, name and endpoint switched."""
    ref = ModelRef.from_option(to)
    block = {k: v for k, v in current.items() if k not in ("name", "api_base")}
    return {"name": ref.name, **({"api_base": ref.api_base} if ref.api_base else {}), **block}


async def repair(config: Config, client: ModelClient, m: Migration, to: str, options: Options, *,
                 commit: bool = True, on_event: Watcher | None = None) -> Repair:
    prompt, golden = load_task(config, m.prompt)
    repo = open_repo(config.root) if commit else None
    if repo is not None:
        check_committed(repo, committed_files(prompt, golden))
    block = model_block(prompt.model_settings, to)
    run = await optimize_prompt(config, m.prompt, options, client=client, commit=False, model=block,
                                on_event=on_event)
    out = Repair(m.prompt)
    winner = run.outcome.winner
    if winner is None:
        out.why = f"optimize found no better prompt for {to} ({run.outcome.stop_reason})"
        return out
    target_prompt = Prompt(prompt.name, prompt.path, {**prompt.data, "model": block})
    best = winner.candidate.prompt(target_prompt)
    out.optimised = Side(to, await evaluate_prompt(config, best, golden, client=client, repeat=m.current.report.repeat))
    v = out.verdict = PromptVerdict(m.prompt, "model-change", notes=[f"{m.current.model} -> {to}, optimised"])
    cases = [c for c in golden.cases if c.id not in set(prompt.example_ids)]
    classify(v, cases, m.current.report.results, out.optimised.report.results)
    gate(v, config.regress, m.current.report.repeat)
    if not v.ok or v.errors:
        out.why = "the optimised prompt on the new model still fails the gate against the current model: " + \
            "; ".join(v.reasons or v.errors[:1])
        return out
    if repo is not None:
        record = run.outcome.winner_record()
        record.model = block
        record.notes = migration_notes(m, out.optimised)
        out.shipped = ship(repo, record, prompt, golden, prefix=config.branch_prefix,
                           models={"task": to, "proposer": config.model("proposer").name}, seed=options.seed,
                           run_id=run.run_id)
    return out


def migration_notes(m: Migration, optimised: Side) -> list[str]:
    """The three columns for the commit message: current model, target with today's prompt, target optimised."""
    rows = [(label, f"{s.report.summary.pass_rate:.3f}") for label, s in
            ((f"{m.current.model} (current)", m.current), (f"{m.target.model}, today's prompt", m.target),
             (f"{m.target.model}, optimised prompt", optimised))]
    return ["", "Model switch: " + tabulate(rows, headers=["model and prompt", "pass rate"], tablefmt="github"), ""]
