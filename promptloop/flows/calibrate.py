"""``promptloop calibrate``: run a prompt's judge on outputs a human labelled, measure how often it agrees
(true positive and true negative rates, Cohen's kappa, with intervals), list the disagreements, and keep the
measurement in the labels file with the judge it was made for."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from promptloop.errors import UsageError
from promptloop.model.client import ModelClient
from promptloop.repo.config import Config
from promptloop.repo.labels import Label, as_stored, load_labels, write_calibration
from promptloop.repo.prompts import Prompt
from promptloop.scoring import assertions as A
from promptloop.scoring.assertions.judge import combine_verdicts, flip_rate, split
from promptloop.scoring.calibration import Agreement, agreement
from promptloop.scoring.eval_run import evaluate_prompt, load_task
from promptloop.scoring.evaluate import CaseResult, judge_model, judge_request, judge_sample
from promptloop.scoring.judge_trust import judge_advisory, judge_fingerprint, the_judge


@dataclass
class Calibration:
    prompt: str
    judge_model: str
    agreement: Agreement
    disagreements: list[tuple[Label, str]] = field(default_factory=list)  # (label, the judge's reason)
    record: dict[str, Any] = field(default_factory=dict)  # what the labels file now holds


async def calibrate(config: Config, client: ModelClient, prompt_name: str,
                    judge_repeat: int | None = None) -> Calibration:
    """``judge_repeat`` (else ``regress.judge_repeats``, as the gate asks) calls per labelled output: the judge is
    measured by the verdict their majority gives, as eval and regress combine them."""
    prompt, golden = load_task(config, prompt_name)
    a = the_judge(prompt)
    if a is None:
        raise UsageError(f"prompt '{prompt.name}' has no llm_judge check to calibrate")
    labels = load_labels(config, prompt.name)
    if not labels.labels:
        raise UsageError(f"no human labels in {labels.path}; add some with `promptloop labels import "
                         f"{prompt.name} FILE` (CSV or JSONL: case, output, acceptable)")
    cases = {c.id: c for c in golden.cases}
    unknown = sorted({x.case for x in labels.labels if x.case not in cases})
    if unknown:
        raise UsageError(f"{labels.path}: labels name cases the golden set does not hold: {', '.join(unknown[:5])}")
    judge, repeat = config.model("judge"), max(1, judge_repeat or int(config.regress["judge_repeats"]))
    pairs, out = [], Calibration(prompt.name, judge_model(a, judge).name, Agreement(0, 0, 0, 0))

    async def verdict(x: Label) -> A.Result:
        replies = await asyncio.gather(*(client.complete(judge_request(a, x.output, cases[x.case], judge,
                                                                       judge_sample(0, k))) for k in range(repeat)))
        return combine_verdicts([A.run(x.output, a, cases[x.case], A.Context(judge_text=c.text)) for c in replies])

    verdicts = await asyncio.gather(*(verdict(x) for x in labels.labels))
    for x, r in zip(labels.labels, verdicts, strict=True):
        pairs.append((x.acceptable, r.passed))
        if x.acceptable != r.passed:
            out.disagreements.append((x, r.reason))
    out.agreement = agreement(pairs)
    out.record = {"fingerprint": judge_fingerprint(config, prompt, a), "judge_model": out.judge_model,
                  "rubric": a.value, "measured": date.today().isoformat(), **out.agreement.summary()}
    if repeat > 1:
        votes = [r.extra["judge_votes"] for r in verdicts]
        out.record.update(judge_repeats=repeat, split=sum(split(r) for r in verdicts), flip_rate=flip_rate(votes))
    write_calibration(labels, out.record)
    return out


async def outputs_to_label(config: Config, client: ModelClient, prompt_name: str,
                           limit: int | None = None) -> list[CaseResult]:
    """The prompt's answers on its golden set (the first ``limit`` cases) that no label covers yet, in order.
    They come as an eval makes them (so from the cache after one), but without the judge: a person is about to
    say what the judge would, and its calls would be paid for nothing."""
    prompt, golden = load_task(config, prompt_name)
    checks = [a for a in prompt.data.get("assertions") or [] if not (isinstance(a, dict) and a.get("type") ==
                                                                         "llm_judge")]
    unjudged = Prompt(prompt.name, prompt.path, {**prompt.data, "assertions": checks})
    report = await evaluate_prompt(config, unjudged, golden, client=client, limit=limit)
    done = {(x.case, x.output) for x in load_labels(config, prompt.name).labels}
    return [r for r in report.results if not r.error and (r.case_id, as_stored(r.output)) not in done]


__all__ = ["Calibration", "calibrate", "judge_advisory", "outputs_to_label", "the_judge"]
