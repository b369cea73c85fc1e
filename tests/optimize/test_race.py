"""Successive halving: the strongest candidate survives, and the weak ones stop early."""

from __future__ import annotations

import asyncio

from promptloop.optimize.candidates import make
from promptloop.optimize.race import successive_halving


def test_the_best_survives_and_losers_cost_little():
    quality = {f"c{i}": i / 10 for i in range(8)}  # c7 is best
    candidates = [make([{"role": "user", "content": name}], "fewshot", name) for name in quality]
    ids = [f"case{i}" for i in range(40)]
    asked: dict[str, set[str]] = {}  # distinct cases: a rung's repeats are served from the cache

    async def score(c, case_ids):
        name = c.messages[0]["content"]
        asked.setdefault(name, set()).update(case_ids)
        # deterministic "pass" pattern: a candidate of quality q passes the first q of every ten cases
        return {i: float(int(i.removeprefix("case")) % 10 < quality[name] * 10) for i in case_ids}

    ranked = asyncio.run(successive_halving(candidates, ids, score, first=5))
    assert ranked[0][0].messages[0]["content"] == "c7"
    assert len(asked["c0"]) == 5 and len(asked["c7"]) == 40  # the worst saw one slice, the best all
    assert sum(map(len, asked.values())) < len(candidates) * len(ids) / 2


def test_a_candidates_own_demonstrations_are_not_scored():
    c = make([{"role": "user", "content": "x"}], "fewshot", "x", demos=["case0", "case1"])
    seen: list[str] = []

    async def score(cand, case_ids):
        seen.extend(case_ids)
        return dict.fromkeys(case_ids, 1.0)

    asyncio.run(successive_halving([c, make([{"role": "user", "content": "y"}], "fewshot", "y")],
                                   [f"case{i}" for i in range(6)], score, first=4))
    assert "case0" not in seen[:2] and seen.count("case0") == 1  # only the other candidate scored it


def test_the_race_says_how_far_along_it_is():
    candidates = [make([{"role": "user", "content": f"c{i}"}], "fewshot", f"c{i}") for i in range(4)]
    told: list[str] = []

    async def score(c, case_ids):
        return dict.fromkeys(case_ids, 1.0)

    asyncio.run(successive_halving(candidates, [f"case{i}" for i in range(8)], score, first=4, tell=told.append))
    assert told[0] == "racing demonstration sets: rung 1, set 1 of 4 on 4 cases"
    assert told[-1] == "racing demonstration sets: rung 2, set 2 of 2 on 8 cases" and len(told) == 6
