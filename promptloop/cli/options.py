"""Options several commands share, declared once so that they read the same everywhere."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from promptloop.scoring.eval_run import Selection

NoCache = Annotated[bool, typer.Option("--no-cache", help="Call the model even for cached requests.")]
Jobs = Annotated[int | None, typer.Option("-j", "--jobs", min=1, metavar="N",
                                          help="Model calls in flight (default: concurrency).")]
JudgeRepeat = Annotated[int | None, typer.Option(
    "--judge-repeat", min=1, metavar="N",
    help="Ask the llm_judge N times about each output: measures its noise (judge_flip_rate); a change resting on "
         "a verdict its calls split on is not counted (default: regress.judge_repeats).")]
# Case selection, like pytest's.
Keyword = Annotated[str | None, typer.Option("-k", metavar="TEXT", help="Only cases whose id or inputs contain TEXT.")]
Tags = Annotated[list[str] | None, typer.Option("--tag", metavar="TAG", help="Only cases with TAG.")]
ExcludeTags = Annotated[list[str] | None, typer.Option("--exclude-tag", metavar="TAG",
                                                      help="Leave out cases with TAG.")]
Sample = Annotated[int | None, typer.Option(min=1, metavar="N", help="A random N of the cases.")]
Seed = Annotated[int, typer.Option(metavar="S", help="Seed for --sample.")]


def selection(keyword: str | None, tags: list[str] | None, exclude_tags: list[str] | None, sample: int | None,
              seed: int, only: frozenset[str] | None = None) -> Selection | None:
    """The Selection these options ask for, or None when they ask for every case."""
    from promptloop.scoring.eval_run import Selection

    if not (keyword or tags or exclude_tags or sample is not None or only is not None):
        return None
    return Selection(keyword, tuple(tags or ()), tuple(exclude_tags or ()), sample, seed, only)
