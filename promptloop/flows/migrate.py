"""``promptloop migrate``: does a prompt survive a switch of its model? Score the golden set on the current
model and on the target in one run (both cached), classify every case as ``regress`` does (fixed, broken as
"regressed", still passing, still failing), judge the switch with the gate's rule, and set cost, tokens and
latency of the two models side by side."""

from __future__ import annotations

from promptloop.flows.regress import classify
from promptloop.model.client import ModelClient
from promptloop.repo.config import Config
from promptloop.repo.prompts import list_prompt_paths
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
        v = PromptVerdict(prompt.name, "model-change", notes=[f"{sides[0].model} -> {sides[1].model}"])
        cases = [c for c in golden.cases if c.id not in set(prompt.example_ids)]
        classify(v, cases, sides[0].report.results, sides[1].report.results)
        gate(v, config.regress, repeat)
        report.migrations.append(Migration(prompt.name, sides[0], sides[1], v))
    return report
