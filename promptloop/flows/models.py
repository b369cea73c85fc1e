"""``promptloop models``: each model the repo names, whether it can be used now, which are retired or retiring,
and which of those not ready would stop eval and regress (a pre-flight; the proposer and an unused judge are
shown, not counted)."""

from __future__ import annotations

from dataclasses import dataclass

from promptloop.errors import PromptloopError
from promptloop.flows.validate import retirements
from promptloop.model.client import check_model, model_status
from promptloop.model.retirement import Retirement
from promptloop.repo.config import Config
from promptloop.repo.prompts import Assertion, Prompt, golden_path, load_golden, loadable_prompts, models_in_use

Status = tuple[str, list[str], bool, str]  # (model, who uses it, ready, where its calls go or what to fix)


@dataclass(frozen=True)
class ModelsReport:
    statuses: list[Status]
    retirements: list[Retirement]
    blocking: list[str]  # not ready, and eval or regress would call it
    others: list[str]  # not ready, but only optimize or an unused role would


async def check_models(config: Config, *, call: bool = False) -> ModelsReport:
    """``call``: make one tiny real call to each model, so that ready means it answered."""
    prompts = loadable_prompts(config)
    rows = models_in_use(config, prompts)
    statuses: list[Status] = []
    for (name, base), users in rows.items():
        ok, detail = await check_model(name, base, timeout=config.timeout) if call else model_status(name, base)
        statuses.append((name, users, ok, detail))
    needed = needed_roles(config, prompts)
    blocking = [name for name, users, ok, _ in statuses
                if not ok and any(u in needed or u.startswith("prompt ") for u in users)]
    others = [name for name, _, ok, _ in statuses if not ok and name not in blocking]
    return ModelsReport(statuses, retirements(rows), blocking, others)


def needed_roles(config: Config, prompts: list[Prompt]) -> set[str]:
    """The roles eval and regress call: the task model, and the judge if any check asks for one."""
    roles = {"task"}
    for prompt in prompts:
        checks: list[Assertion] = list(prompt.assertions)
        try:
            golden = load_golden(golden_path(config, prompt), prompt)
        except PromptloopError:
            golden = None  # missing or broken: validate's to report
        checks += [a for c in (golden.cases if golden else []) for a in c.assertions]
        if any(a.type == "llm_judge" and not a.model for a in checks):
            roles.add("judge")
    return roles
