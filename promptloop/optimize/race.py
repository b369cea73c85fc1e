"""Racing many cheap candidates by successive halving: all on a small slice, the better half on a slice
twice as large, and so on, so that most of a budget goes to the candidates still in the race.

Pure control flow: scoring comes in as a function, so it is tested without a model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from promptloop.optimize.acceptance import mean
from promptloop.optimize.candidates import Candidate

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
