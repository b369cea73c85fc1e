"""Racing many cheap candidates by successive halving: all on a small slice, the better half on a slice
twice as large, and so on, so that most of a budget goes to the candidates still in the race.

Pure control flow: scoring comes in as a function, so it is tested without a model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from promptloop.errors import BudgetExceeded
from promptloop.optimize.acceptance import mean
from promptloop.optimize.candidates import Candidate, constrained_variant, fewshot_variants, make
from promptloop.optimize.events import Note, Stage, Watcher
from promptloop.repo.prompts import Case, Prompt

Score = Callable[[Candidate, list[str]], Awaitable[dict[str, float]]]
Told = Callable[[str], None]  # how far along the race is, for people


async def successive_halving(candidates: list[Candidate], ids: list[str], score: Score, *,
                             first: int = 8, keep: float = 0.5, tell: Told | None = None
                             ) -> list[tuple[Candidate, float]]:
    """The candidates still standing after the last rung, best first, with their mean rate on it.
    Each rung scores a candidate on the slice's cases except its own demonstrations."""
    alive = list(candidates)
    size = first
    ranked: list[tuple[Candidate, float]] = [(c, 0.0) for c in alive]
    rung = 0
    while alive:
        slice_ids = ids[:size]
        results = []
        rung += 1
        for n, c in enumerate(alive, 1):
            if tell:
                tell(f"racing demonstration sets: rung {rung}, set {n} of {len(alive)} on {len(slice_ids)} cases")
            own = [i for i in slice_ids if i not in c.demos]
            rates = await score(c, own) if own else {}
            results.append((c, mean([rates[i] for i in own if i in rates])))
        ranked = sorted(results, key=lambda r: -r[1])
        if size >= len(ids) or len(alive) <= 1:
            break
        alive = [c for c, _ in ranked[: max(1, int(len(ranked) * keep))]]
        size *= 2
    return ranked


async def race_demonstrations(base: Candidate, prompt: Prompt, pool: list[Case], order: list[str], score: Score, *,
                              seed: int, first: int, emit: Watcher) -> Candidate | None:
    """Label-balanced demonstration sets of several sizes and seeds (and, for label tasks, decoded under the
    label set), raced by successive halving on growing slices of ``order``; the survivor is returned for the
    full evaluation and the acceptance rule."""
    if len(pool) < 2:
        return None
    labels = next((a.value for a in prompt.assertions if a.type == "label" and a.value), None)
    # One or two demonstrations of every label (at least 2 and 4), else 1 to 8 examples.
    wanted = (max(2, len(labels)), max(4, 2 * len(labels))) if labels else (1, 2, 4, 8)
    sizes = sorted({min(n, len(pool)) for n in wanted})
    unused = [c for c in pool if c.id not in base.demos]
    entrants: list[Candidate] = []
    for s in (seed, seed + 1, seed + 2):
        for c in fewshot_variants(base, prompt, unused, sizes, seed=s * 7919 + 1):
            entrants.append(c)
            constrained = constrained_variant(c, prompt)
            if constrained is not None:
                entrants.append(make(c.messages, "fewshot", c.rationale + ", decoded under the label set",
                                     c.parent, c.demos, constrained.output, c.tools))
    entrants = list({c.id: c for c in entrants}.values())
    if len(entrants) < 2:
        return None
    emit(Stage(f"racing {len(entrants)} demonstration sets"))
    try:
        ranked = await successive_halving(entrants, order, score, first=first, tell=lambda text: emit(Stage(text)))
    except BudgetExceeded:
        return None
    best, rate = ranked[0]
    emit(Note(f"demonstration race won by {best.id} ({best.rationale}, {rate:.2f} on its last slice)"))
    return best
