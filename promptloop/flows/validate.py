"""``promptloop validate``: every file of the prompt repo checked offline, each prompt loaded once; what is
wrong (errors) and what will be (warnings: a model retired or retiring, a judge changed since it was measured)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from promptloop.errors import ConfigError
from promptloop.model.retirement import Retirement, retirement_of
from promptloop.repo.config import Config
from promptloop.repo.labels import labels_path
from promptloop.repo.prompts import Prompt, models_in_use, validate_repo
from promptloop.scoring.judge_trust import judge_advisory


@dataclass(frozen=True)
class Validation:
    checked: int  # files read, promptloop.yaml included
    errors: list[ConfigError]
    retirements: list[Retirement]  # warnings here: validate runs in pre-commit, offline
    stale_judges: list[tuple[str, str]]  # (prompt, why its judge's measurement no longer holds)


def validate(config: Config) -> Validation:
    checked, errors, prompts = validate_repo(config)
    return Validation(checked, errors, retirements(models_in_use(config, prompts)), stale_judges(config, prompts))


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
