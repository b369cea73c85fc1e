"""``promptloop eval``: score prompts on their golden sets, keep each run in the eval history, and say
which cases flipped since an earlier run (``--compare``). Everything is checked before the first paid call."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from promptloop.errors import UsageError
from promptloop.git.tree import tree_state_later
from promptloop.model.client import ModelClient
from promptloop.repo.config import CONFIG_FILE, Config
from promptloop.repo.prompts import GoldenSet, Prompt, list_prompt_paths
from promptloop.scoring import runs as history
from promptloop.scoring.eval_run import EvalReport, Selection, evaluate_prompt, load_task, path_kind
from promptloop.scoring.evaluate import Progress
from promptloop.scoring.shards import Shard


@dataclass(frozen=True)
class EvalOptions:
    """What ``eval`` was asked for: which prompts and cases, how, and what to compare with."""

    prompts: tuple[str, ...] = ()  # none: every prompt in the repo
    golden: str | None = None
    model: str | None = None
    repeat: int = 1
    judge_repeat: int | None = None  # judge calls per output (None: regress.judge_repeats); >1 measures its noise
    limit: int | None = None
    shard: Shard | None = None
    selection: Selection | None = None
    failed: bool = False  # only the cases that failed (or errored) in the prompt's last run
    compare: str | None = None  # "last" or a run id
    outputs: tuple[str, ...] = ()  # report file names: their kinds are checked before any call


@dataclass
class EvalOutcome:
    """One prompt's run: its report, its id in the history, and what flipped since the run it was compared with."""

    report: EvalReport
    run_id: int
    earlier: history.EvalRun | None = None
    flips: dict[str, list[str]] | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)  # true of the prompt, not of this run's cases


@dataclass
class _Planned:
    prompt: Prompt
    golden: GoldenSet
    selection: Selection | None
    earlier: history.EvalRun | None


async def evaluate(config: Config, options: EvalOptions, *, client: ModelClient,
                   progress: Callable[[str], Progress | None] | None = None) -> list[EvalOutcome]:
    """Score every prompt asked for, one after another, on one client; ``progress(name)`` gives each
    prompt's progress callback."""
    from pathlib import Path

    for name in options.outputs:
        path_kind(Path(name))  # an unknown report type fails before any model call is paid for
    plans = plan(config, options)
    watched = (config.prompts_dir, config.golden_dir, config.root / CONFIG_FILE)
    tree = tree_state_later(config.root, watched)  # read while the calls run: its git overlaps their network waits
    out = []
    for p in plans:
        report = await evaluate_prompt(config, p.prompt, p.golden, client=client, model=options.model,
                                       repeat=options.repeat, limit=options.limit, shard=options.shard,
                                       judge_repeat=options.judge_repeat or config.regress["judge_repeats"],
                                       selection=p.selection, progress=progress(p.prompt.name) if progress else None)
        revision, dirty = tree()
        run_id = history.record(config.cache_dir, report, revision=revision, dirty=dirty)
        flips = None if p.earlier is None else history.flips(p.earlier, history.get(config.cache_dir, run_id))
        stale = p.prompt.stale_calibration() if p.prompt.label_reading(report.model) else None
        out.append(EvalOutcome(report, run_id, p.earlier, flips, [stale] if stale else []))
    return out


def plan(config: Config, options: EvalOptions) -> list[_Planned]:
    """Each prompt with its golden set, selection and earlier run, fully checked."""
    names = list(options.prompts) or [p.stem for p in list_prompt_paths(config)]
    if not names:
        raise UsageError(f"no prompts in {config.prompts_dir}; `promptloop init` writes an example")
    plans = []
    for name in names:
        prompt, golden = load_task(config, name, options.golden)
        selection = options.selection
        if options.failed:
            only = last_failures(config, prompt.name, name)
            selection = dataclasses.replace(selection or Selection(), only=only)
        plans.append(_Planned(prompt, golden, selection, earlier_run(config, prompt.name, options.compare)))
    return plans


def last_failures(config: Config, prompt: str, asked_as: str) -> frozenset[str]:
    """The cases whose latest result failed or errored, across runs (``--failed``, as pytest's ``--lf``): a
    run of a selection updates the cases it ran and leaves the others as their own last run left them."""
    earlier = history.runs(config.cache_dir, prompt, limit=200)  # newest first
    if not earlier:
        raise UsageError(f"--failed: no earlier run of {prompt} yet; run `promptloop eval {asked_as}` first")
    latest: dict[str, bool] = {}
    for run in earlier:
        passed: dict[str, bool] = {}
        for key, status in run.cases.items():  # "id#sample": a case passed only if every sample did
            case = key.split("#")[0]
            passed[case] = passed.get(case, True) and status == "passed"
        for case, ok in passed.items():
            latest.setdefault(case, ok)
    return frozenset(case for case, ok in latest.items() if not ok)


def earlier_run(config: Config, prompt: str, compare: str | None) -> history.EvalRun | None:
    """The run ``--compare`` names, found before any model call is paid for."""
    if not compare:
        return None
    previous = history.runs(config.cache_dir, prompt)
    earlier = previous[0] if compare == "last" and previous else (
        history.get(config.cache_dir, int(compare)) if compare.isdigit() else None)
    if earlier is None:
        raise UsageError(f"--compare {compare}: no earlier run of {prompt} to compare with "
                         "(`promptloop history` lists them)")
    return earlier
