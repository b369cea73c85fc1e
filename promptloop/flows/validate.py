"""``promptloop validate``: every file of the prompt repo checked offline, each prompt loaded once; what is
wrong (errors) and what will be (warnings: a model retired or retiring, a judge changed since it was measured,
a label calibration fitted to other messages)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from promptloop.errors import ConfigError
from promptloop.model.retirement import Retirement, retirement_of
from promptloop.repo.config import Config
from promptloop.repo.labels import labels_path
from promptloop.repo.prompts import (
    Prompt,
    golden_path,
    list_prompt_paths,
    load_golden,
    load_prompt,
    models_in_use,
    python_check_errors,
)
from promptloop.scoring.judge_trust import judge_advisory


@dataclass(frozen=True)
class Validation:
    checked: int  # files read, promptloop.yaml included
    errors: list[ConfigError]
    retirements: list[Retirement]  # warnings here: validate runs in pre-commit, offline
    stale_judges: list[tuple[str, str]]  # (prompt, why its judge's measurement no longer holds)
    stale_calibrations: list[tuple[str, str]] = field(default_factory=list)  # (prompt, why its bias no longer fits)


def validate(config: Config) -> Validation:
    checked, errors, prompts = validate_repo(config)
    stale = [(p.name, why) for p in prompts if (why := p.stale_calibration())]
    return Validation(checked, errors, retirements(models_in_use(config, prompts)), stale_judges(config, prompts),
                      stale)


def retirements(models: Iterable[tuple[str, str | None]]) -> list[Retirement]:
    """Of the (model, api_base) pairs a repo uses (``models_in_use``), those retired or retiring soon."""
    found = (retirement_of(name) for name, _ in models)
    return [r for r in found if r is not None]


def stale_judges(config: Config, prompts: list[Prompt]) -> list[tuple[str, str]]:
    """Prompts whose judge was calibrated once but changed since: the measurement no longer holds."""
    out = []
    for prompt in prompts:
        if labels_path(config, prompt.name).is_file():
            why = judge_advisory(config, prompt)
            if why and "stale" in why:
                out.append((prompt.name, why))
    return out


def validate_repo(config: Config) -> tuple[int, list[ConfigError], list[Prompt]]:
    """Check every prompt and golden file offline; returns (files checked, errors, the prompts that loaded)."""
    errors: list[ConfigError] = []
    prompts: list[Prompt] = []
    checked = 1  # promptloop.yaml was loaded to get here
    used_golden: set[Path] = set()
    for path in list_prompt_paths(config):
        checked += 1
        try:
            prompt = load_prompt(config, str(path))
            gpath = golden_path(config, prompt)
        except ConfigError as e:
            errors += [e, *e.others]
            continue
        prompts.append(prompt)
        used_golden.add(gpath)
        try:
            golden = load_golden(gpath, prompt)
        except ConfigError as e:
            errors += [e, *e.others, *python_check_errors(config, prompt, None)]
            continue
        errors += python_check_errors(config, prompt, golden)
        if not golden.cases:
            errors.append(ConfigError(f"no cases, so prompt '{prompt.name}' has nothing to be scored on; add "
                                      "cases under `cases:`", file=str(gpath)))
    if config.golden_dir.is_dir():
        for gpath in sorted([*config.golden_dir.glob("*.yaml"), *config.golden_dir.glob("*.yml")]):
            checked += 1
            if gpath.resolve() in used_golden:
                continue
            try:
                load_golden(gpath)
            except ConfigError as e:
                errors += [e, *e.others]
    return checked, errors, prompts
