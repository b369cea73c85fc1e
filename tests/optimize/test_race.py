"""Demonstrations chosen by cross-validation: every case scored once by a set that does not hold it, a set that
only fits its own fold loses, and the final set is drawn from the whole pool by the winning recipe."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from promptloop.optimize.candidates import make
from promptloop.optimize.race import Judged, Recipe, best_recipe, cross_validate, folds, recipes
from promptloop.repo.prompts import Case, prompt_from_text

PROMPT = """\
inputs: [q]
messages:
  - {role: system, content: Classify the item.}
  - {role: user, content: "Item: {{q}}"}
assertions:
  - {type: label, value: [yes, no]}
"""
CASES = [Case(f"case{i}", {"q": f"item {i}"}, "yes" if i % 2 else "no") for i in range(24)]
IDS = [c.id for c in CASES]


def run(score, incumbent=None, events=None):
    prompt = prompt_from_text("cls", Path("prompts/cls.yaml"), PROMPT)
    base = make(prompt.messages, "baseline", "the current prompt")
    return asyncio.run(cross_validate(base, prompt, CASES, IDS, score, incumbent or dict.fromkeys(IDS, 0.0),
                                      seed=0, alpha=0.05, emit=(events if events is not None else []).append))


def test_every_case_is_scored_once_per_recipe_by_a_set_from_the_other_fold():
    a, b = folds(IDS, 0)
    seen: dict[int, list[str]] = {}

    async def score(c, ids):
        assert not set(ids) & set(c.demos)  # never a set's own demonstration
        assert (set(c.demos) <= a and set(ids) <= b) or (set(c.demos) <= b and set(ids) <= a)
        seen.setdefault(len(c.demos), []).extend(ids)
        return dict.fromkeys(ids, 1.0)

    winner = run(score)
    assert sorted(seen) == [2, 4, 8] and all(sorted(v) == sorted(IDS) for v in seen.values())
    # all three tie at 1.0: the smallest recipe wins, its set drawn afresh from the whole pool
    assert winner is not None and len(winner.demos) == 2


def test_a_set_that_only_fits_its_own_fold_loses_to_one_that_generalises():
    """Eight demonstrations memorise their own fold (perfect there, wrong elsewhere); two help everywhere a
    little. Scored on its own fold the big set would look perfect; across folds it is the worst."""

    async def score(c, ids):
        if len(c.demos) == 8:
            own = folds(IDS, 0)[0] if c.demos[0] in folds(IDS, 0)[0] else folds(IDS, 0)[1]
            return {i: float(i in own) for i in ids}
        return {i: float(int(i.removeprefix("case")) % 3 != 0) for i in ids}  # two of three cases

    events: list = []
    winner = run(score, events=events)
    assert winner is not None and len(winner.demos) in (2, 4)
    notes = [e.text for e in events if type(e).__name__ == "Note"]
    assert any("8 demonstrations: 0.00" in n for n in notes) and any("sign test" in n for n in notes)


def test_no_recipe_that_does_not_beat_the_current_prompt():
    async def score(c, ids):
        return dict.fromkeys(ids, 0.5 > 1)  # every case fails, as the current prompt's pass

    events: list = []
    assert run(score, incumbent=dict.fromkeys(IDS, 1.0), events=events) is None
    assert any("no recipe beats the current prompt" in getattr(e, "text", "") for e in events)


@pytest.mark.parametrize("rates, want", [
    ({2: 0.5, 4: 0.75, 8: 0.6}, 4),  # the highest cross-validated rate
    ({2: 0.75, 4: 0.75, 8: 0.75}, 2),  # a tie: the smaller set
    ({2: 0.25, 4: 0.25, 8: 0.25}, None),  # none beats the incumbent (0.5 on the same cases)
])
def test_which_recipe_builds_the_final_set(rates, want):
    ids = [f"c{i}" for i in range(4)]
    incumbent = {i: float(n < 2) for n, i in enumerate(ids)}
    judged = [Judged(Recipe(k), {i: float(n < round(r * 4)) for n, i in enumerate(ids)}) for k, r in rates.items()]
    top, why = best_recipe(judged, incumbent, 0.05)
    assert (top.recipe.size if top else None) == want, why


def test_recipes_follow_the_labels_and_what_a_fold_can_hold():
    prompt = prompt_from_text("cls", Path("prompts/cls.yaml"), PROMPT)
    assert [r.size for r in recipes(prompt, 12)] == [2, 4, 8]
    assert [r.size for r in recipes(prompt, 3)] == [2, 3]
    free = prompt_from_text("cls", Path("prompts/cls.yaml"), PROMPT + "output: {choices: free}\n")
    assert [r.size for r in recipes(free, 12)] == [2, 4, 8]

