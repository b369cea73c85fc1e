"""Running a prompt over cases: requests out, scored case results back."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptloop.errors import BudgetExceeded, Interrupted, ModelError, TransientModelError
from promptloop.model.client import Completion, ModelClient, Request
from promptloop.repo.config import Config, ModelRef
from promptloop.repo.prompts import Assertion, Case, Prompt
from promptloop.scoring import assertions as A
from promptloop.scoring.assertions.judge import combine_verdicts
from promptloop.scoring.assertions.tools import describe_calls

Progress = Callable[[int, int], None]


@dataclass
class CaseResult:
    case_id: str
    sample: int
    inputs: dict[str, Any]
    expected: Any
    tags: list[str]
    output: str = ""
    error: str | None = None
    results: list[A.Result] = field(default_factory=list)
    passed: bool = False
    score: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    latency_s: float = 0.0
    cached: bool = False
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    label_scores: dict[str, float] | None = None  # each choice's log-probability, where the model gives them

    @property
    def status(self) -> str:
        """passed, failed, or error: a call that failed after retries is never scored."""
        if self.error:
            return "error"
        return "passed" if self.passed else "failed"

    @property
    def reason(self) -> str:
        if self.error:
            return self.error
        return "; ".join(f"{r.type}: {r.reason}" for r in self.results if not r.passed)


def default_assertions(prompt: Prompt, case: Case) -> list[Assertion]:
    """The checks a case gets: the prompt's and its own; a case expecting tool calls is checked for them;
    one with only an expected value, with equals."""
    found = [*prompt.assertions, *case.assertions]
    expects_calls = isinstance(case.expected, dict) and "tool_calls" in case.expected
    if expects_calls and not any(a.type == "tool_call" for a in found):
        found.append(_TOOL_CALL)
    if not found and case.expected is not None:
        found = [_EQUALS]
    return found


_TOOL_CALL, _EQUALS = Assertion("tool_call"), Assertion("equals")  # the implicit checks, built once (never mutated)


def request_params(prompt: Prompt, sample: int = 0, model: str | None = None) -> dict[str, Any]:
    """What a call of ``prompt`` sends besides its messages; ``model``: who answers (a calibration fitted for
    that model is sent as ``label_bias`` and ``label_lead``)."""
    settings = prompt.model_settings
    params: dict[str, Any] = {"temperature": settings.get("temperature", 0.0)}
    for k in ("max_tokens", "top_p", "stop"):
        if settings.get(k) is not None:
            params[k] = settings[k]
    if settings.get("seed") is not None:
        # Repeats must be able to differ: each sample gets its own, still reproducible, seed.
        params["seed"] = int(settings["seed"]) + sample
    schema = prompt.output_schema
    if prompt.choices:
        params["response_format"] = choice_format(prompt.choices)
        params.update(prompt.label_reading(model))
    elif schema is not None:
        params["response_format"] = {"type": "json_schema",
                                     "json_schema": {"name": "output", "schema": schema, "strict": False}}
    elif prompt.output.get("format") == "json":
        params["response_format"] = {"type": "json_object"}
    if prompt.tools:
        params["tools"] = prompt.tools
        if prompt.tool_choice is not None:
            params["tool_choice"] = prompt.tool_choice
    return params


CHOICE_KEY = "answer"


def choice_format(choices: list[str]) -> dict[str, Any]:
    """Closed-set output as structured output: an object with one enum field (the shape providers accept;
    the embedded model turns it into a grammar that admits exactly these answers)."""
    schema = {"type": "object", "properties": {CHOICE_KEY: {"type": "string", "enum": list(choices)}},
              "required": [CHOICE_KEY], "additionalProperties": False}
    return {"type": "json_schema", "json_schema": {"name": "choice", "schema": schema, "strict": True}}


def read_choice(prompt: Prompt, text: str) -> str:
    """The chosen answer from a constrained reply; the text itself if the model answered in plain text."""
    if not prompt.choices:
        return text
    try:
        value = json.loads(text)
    except ValueError:  # cut short or not JSON: the one choice it names, if exactly one
        named = [c for c in prompt.choices if f'"{c}"' in text]
        return named[0] if len(named) == 1 else text
    answer = value.get(CHOICE_KEY) if isinstance(value, dict) else value
    return answer if isinstance(answer, str) else text


def task_model(prompt: Prompt, config: Config, override: str | None = None) -> ModelRef:
    if override:
        ref = ModelRef.from_option(override)
        return ModelRef(ref.name, ref.api_base or prompt.model_settings.get("api_base"))
    name = prompt.model_settings.get("name")
    default = config.model("task")
    if name:
        return ModelRef(name, prompt.model_settings.get("api_base") or (
            default.api_base if name == default.name else None))
    return ModelRef(default.name, prompt.model_settings.get("api_base") or default.api_base)


def build_request(prompt: Prompt, case: Case, model: ModelRef, sample: int = 0) -> Request:
    return Request(model=model.name, api_base=model.api_base, messages=prompt.render(case.inputs),
                   params=request_params(prompt, sample, model.name), sample=sample)


@dataclass
class Scorer:
    """Scores one output against a case: hard checks first, then soft ones (LLM judge)."""

    prompt: Prompt
    root: Path
    judge: ModelRef
    client: ModelClient
    judge_repeat: int = 1  # calls to the judge per output: more than one measures its noise

    async def score(self, out: CaseResult, case: Case) -> None:
        ctx = A.Context(output_schema=self.prompt.output_schema, root=self.root, tool_calls=out.tool_calls,
                        tools=self.prompt.tools)
        checks = default_assertions(self.prompt, case)
        hard = [a for a in checks if A.REGISTRY[a.type].hard]
        soft = [a for a in checks if not A.REGISTRY[a.type].hard]
        out.results = [A.run(out.output, a, case, ctx) for a in hard]
        if all(r.passed for r in out.results):
            for a in soft:
                try:
                    out.results.append(await self._soft(out, a, case, ctx))
                except TransientModelError as e:
                    out.error, out.passed, out.score = f"judge call failed: {e}", False, 0.0
                    return
        hard_ok = all(r.passed for r in out.results if r.hard)
        weight = sum(r.weight for r in out.results)
        out.passed = hard_ok and all(r.passed for r in out.results)
        if not hard_ok:
            out.score = 0.0
        elif weight:
            out.score = sum(r.score * r.weight for r in out.results) / weight
        else:
            out.score = 1.0

    async def _soft(self, out: CaseResult, a: Assertion, case: Case, ctx: A.Context) -> A.Result:
        if a.type != "llm_judge":
            return A.run(out.output, a, case, ctx)
        # A failed judge call makes the case an error, not a failure.
        replies = await asyncio.gather(*(
            self.client.complete(judge_request(a, out.output, case, self.judge, judge_sample(out.sample, k)))
            for k in range(self.judge_repeat)))
        verdicts = []
        for c in replies:
            out.input_tokens += c.input_tokens
            out.output_tokens += c.output_tokens
            if c.cost_usd is not None:
                out.cost_usd = (out.cost_usd or 0.0) + c.cost_usd
            verdicts.append(A.run(out.output, a, case, A.Context(ctx.output_schema, ctx.root, judge_text=c.text,
                                                                 tool_calls=ctx.tool_calls, tools=ctx.tools)))
        return combine_verdicts(verdicts)


def judge_model(a: Assertion, judge: ModelRef) -> ModelRef:
    """The model an ``llm_judge`` check asks: its own ``model``, else the configured judge."""
    return ModelRef(a.model, None) if a.model else judge


JUDGE_STRIDE = 1_000_000  # a judge repeat's sample number: case samples (repeat) stay far below it


def judge_sample(sample: int, k: int) -> int:
    """The sample number of the judge's ``k``-th call about a case's ``sample``: the first is the sample
    itself, so a run with one judge call per output shares its cache with every earlier run."""
    return sample + JUDGE_STRIDE * k


def judge_request(a: Assertion, output: str, case: Case, judge: ModelRef, sample: int = 0) -> Request:
    """The judge call for one output (eval, regress and calibrate ask the judge alike, so they share the cache)."""
    model = judge_model(a, judge)
    return Request(model=model.name, api_base=model.api_base, messages=A.judge_messages(output, a, case),
                   params={"temperature": 0.0, "max_tokens": 256, "response_format": A.JUDGE_FORMAT},
                   sample=sample, purpose="judge")


@contextlib.contextmanager
def settled_heap() -> Iterator[None]:
    """What is alive when a run starts (modules, the prompt, the golden set) outlives it, so the collector's
    full passes skip it for the run's length and scan only what the run makes: one pass over it took 47 ms
    of a 1,000-call eval, as much as all scoring. Young collections are ten times rarer meanwhile (a call's
    temporaries die by reference count; the results kept were being rescanned): 11-13 ms of collection per
    1,000 calls became 5-11. Both given back afterwards."""
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0] * 10, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


async def run_cases(prompt: Prompt, cases: list[Case], client: ModelClient, *, model: ModelRef, judge: ModelRef,
                    root: Path, repeat: int = 1, progress: Progress | None = None,
                    judge_repeat: int = 1) -> list[CaseResult]:
    """Call the model for every case and sample, concurrently, and score each answer.

    Transient model failures become per-case errors (status ``error``, never scored); a
    configuration error (missing key, unknown model), an exhausted budget or an interrupt stops
    the run. On an interrupt, calls already in flight are awaited so their answers are cached.
    """
    scorer = Scorer(prompt, root, judge, client, judge_repeat)
    jobs = [(case, s) for case in cases for s in range(repeat)]
    total = len(jobs)
    done = 0
    if progress:
        progress(0, total)

    async def one(case: Case, sample: int) -> CaseResult:
        nonlocal done
        out = CaseResult(case.id, sample, case.inputs, case.expected, case.tags)
        try:
            c: Completion = await client.complete(build_request(prompt, case, model, sample))
        except TransientModelError as e:
            out.error = str(e)
        else:
            out.output, out.cached, out.latency_s = read_choice(prompt, c.text), c.cached, c.latency_s
            out.tool_calls, out.label_scores = c.tool_calls, c.label_scores
            if c.tool_calls and not out.output.strip():  # what reports show as the answer
                out.output = describe_calls(c.tool_calls)
            out.input_tokens, out.output_tokens, out.cost_usd = c.input_tokens, c.output_tokens, c.cost_usd
            await scorer.score(out, case)
        done += 1
        if progress:
            progress(done, total)
        return out

    tasks = [asyncio.ensure_future(one(case, s)) for case, s in jobs]
    try:
        with settled_heap():
            return list(await asyncio.gather(*tasks))
    except Interrupted:
        await asyncio.gather(*tasks, return_exceptions=True)  # paid calls in flight land in the cache
        raise
    except (ModelError, BudgetExceeded):
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
