"""The pure rules, tested as tables: each row is a situation and the rule's answer with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptloop.optimize.acceptance import accept
from promptloop.optimize.candidates import guard, make
from promptloop.repo.prompts import Case, prompt_from_text
from promptloop.scoring.gate import CaseChange, PromptVerdict, gate
from promptloop.scoring.significance import pair

SETTINGS = {"allowance": 0, "tolerance": 0.02, "alpha": 0.05}


def paired(fixed: int = 0, regressed: int = 0, passing: int = 10, failing: int = 0):
    base = {**{f"f{i}": 0.0 for i in range(fixed)}, **{f"r{i}": 1.0 for i in range(regressed)},
            **{f"p{i}": 1.0 for i in range(passing)}, **{f"x{i}": 0.0 for i in range(failing)}}
    new = {**{f"f{i}": 1.0 for i in range(fixed)}, **{f"r{i}": 0.0 for i in range(regressed)},
           **{f"p{i}": 1.0 for i in range(passing)}, **{f"x{i}": 0.0 for i in range(failing)}}
    return pair(base, new)


@pytest.mark.parametrize("rate,base,p,fixed,critical,status,reason", [
    (0.9, 0.5, paired(fixed=4), ["c2"], ["c1"], "not-accepted", "breaks critical case(s) c1"),
    (0.9, 0.5, paired(fixed=4), [], [], "not-accepted", "fixes none of the held-out failures"),
    (0.6, 0.5, paired(fixed=1, regressed=8), ["f0"], [], "not-accepted", "8 regressions, significant"),
    (0.45, 0.5, paired(fixed=1, regressed=1), ["f0"], [], "not-accepted", "pass rate drops 0.50 -> 0.45"),
    (0.5, 0.5, paired(fixed=1, regressed=1), ["f0"], [], "not-accepted", "no better than the baseline"),
    (0.49, 0.5, paired(fixed=1, regressed=1), ["f0"], [], "not-accepted", "no better than the baseline"),
    (0.7, 0.5, paired(fixed=2), ["f0", "f1"], [], "accepted", "fixes 2 held-out failure(s); 2 fixed, 0 regressed"),
])
def test_accept(rate, base, p, fixed, critical, status, reason):
    got, why = accept(rate, base, p, fixed, critical, alpha=0.05, tolerance=0.02)
    assert (got, why.startswith(reason)) == (status, True), why


def verdict(p, *, critical_regressed: bool = False, base: float = 0.8, new: float = 0.8) -> PromptVerdict:
    v = PromptVerdict("cls", "modified", paired=p, base_metrics={"pass_rate": base}, new_metrics={"pass_rate": new})
    v.cases = [CaseChange(i, "regressed", critical=critical_regressed) for i in p.regressed]
    v.cases += [CaseChange(i, "fixed") for i in p.fixed]
    return v


@pytest.mark.parametrize("v,settings,ok,reasons", [
    (verdict(paired()), SETTINGS, True, []),
    (verdict(paired(fixed=3)), SETTINGS, True, []),
    (verdict(paired(regressed=1)), SETTINGS, False, ["1 case(s) regressed (allowance 0)"]),
    (verdict(paired(regressed=1)), {**SETTINGS, "allowance": 1}, True, []),
    (verdict(paired(regressed=1), critical_regressed=True), {**SETTINGS, "allowance": 1}, False,
     ["critical case(s) regressed: r0"]),
    # a drop beyond the tolerance fails only when the regressions are significant
    (verdict(paired(regressed=6, passing=4), base=1.0, new=0.4), {**SETTINGS, "allowance": 10}, False,
     ["pass_rate 1.000 -> 0.400 (drop beyond tolerance 0.02)"]),
    (verdict(paired(regressed=1, passing=9), base=1.0, new=0.9), {**SETTINGS, "allowance": 10}, True, []),
])
def test_gate(v, settings, ok, reasons):
    gate(v, settings, repeat=1)
    assert (v.ok, v.reasons) == (ok, reasons)
    assert "sign test p=" in v.confidence


PROMPT = """\
inputs: [q]
messages:
  - {role: system, content: Classify the item.}
  - {role: user, content: "Item: {{q}}"}
"""
LONG = "a blueberry muffin tin with a lid"


@pytest.mark.parametrize("messages,origin,max_chars,why", [
    ([{"role": "system", "content": "Classify carefully."}, {"role": "user", "content": "Item: {{q}}"}],
     "proposer", 8000, None),
    ([{"role": "system", "content": "Classify carefully."}, {"role": "user", "content": "Item:"}],
     "proposer", 8000, "drops template variable(s) q"),
    ([{"role": "system", "content": "Use {{hint}}."}, {"role": "user", "content": "Item: {{q}}"}],
     "proposer", 8000, "uses undeclared variable(s) hint"),
    ([{"role": "system", "content": "Classify the item."}, {"role": "user", "content": "Item: {{q}}"}],
     "proposer", 8000, "degenerate proposal: the current instructions unchanged"),
    ([{"role": "system", "content": "x" * 200}, {"role": "user", "content": "Item: {{q}}"}],
     "proposer", 100, "too long (2"),
    ([{"role": "system", "content": "Your new instructions will include:"}, {"role": "user", "content": "Item: {{q}}"}],
     "proposer", 8000, "degenerate proposal: it announces instructions but gives none"),
    ([{"role": "system", "content": "Classify the item:\n- A is for fruit\n- B is for bakeware."},
      {"role": "user", "content": "Item: {{q}}"}], "proposer", 8000, None),
    ([{"role": "system", "content": f"Note: {LONG} is B."}, {"role": "user", "content": "Item: {{q}}"}],
     "proposer", 8000, "leaks held-out case c4"),
    ([{"role": "system", "content": "Classify. B is for bakeware."}, {"role": "user", "content": "Item: {{q}}"}],
     "fewshot", 8000, None),
])
def test_guard(messages, origin, max_chars, why):
    prompt = prompt_from_text("cls", Path("prompts/cls.yaml"), PROMPT)
    protected = [Case("c4", {"q": LONG}, "B"), Case("c5", {"q": "pie"}, "A")]
    got = guard(make(messages, origin, "r"), prompt, protected, max_chars)
    assert (got or "").startswith(why or "") and (got is None) == (why is None), got


TOOL_PROMPT = PROMPT + """\
tools:
  - type: function
    function: {name: find, description: Find an item., parameters: {type: object, properties: {q: {type: string}}}}
"""
SAME = [{"role": "system", "content": "Classify the item."}, {"role": "user", "content": "Item: {{q}}"}]


def tool(name: str = "find", description: str = "Find an item.", prop: str = "q") -> list[dict]:
    params = {"type": "object", "properties": {prop: {"type": "string"}}}
    return [{"type": "function", "function": {"name": name, "description": description, "parameters": params}}]


@pytest.mark.parametrize("tools,allowed,why", [
    (tool(description="Find an item by its name."), True, None),  # same instructions: the new description is new
    (tool(description="Find an item by its name."), False, "rewrites tool descriptions, which needs"),
    (tool(name="search", description="Find an item by its name."), True, "changes a tool's name or parameters"),
    (tool(prop="query"), True, "changes a tool's name or parameters"),
    ([], True, "changes a tool's name or parameters"),
    (tool(description=f"Find {LONG}."), True, "leaks held-out case c4"),
])
def test_guard_on_tool_descriptions(tools, allowed, why):
    prompt = prompt_from_text("cls", Path("prompts/cls.yaml"), TOOL_PROMPT)
    protected = [Case("c4", {"q": LONG}, "B")]
    got = guard(make(SAME, "proposer", "r", tools=tools), prompt, protected, 8000, tool_descriptions=allowed)
    assert (got or "").startswith(why or "") and (got is None) == (why is None), got


def scored(passing: int, of: int, cost: float | None = None, tokens: float | None = None):
    from promptloop.optimize.outcome import Scored

    rates = {f"c{i}": 1.0 if i < passing else 0.0 for i in range(of)}
    text = f"v{passing}{cost}" + "x" * int(tokens or 0)  # a longer prompt where more tokens are asked for
    return Scored(make([{"role": "user", "content": text}], "proposer", "r"),
                  full_rate=passing / of, rates=rates, status="accepted", cost_per_call=cost, tokens_per_call=tokens)


@pytest.mark.parametrize("challenger, best, cheaper, chosen", [
    (scored(10, 20), None, False, "the highest pass rate"),                     # the first accepted
    (scored(11, 20), scored(10, 20), False, None),                # higher, but within the noise: the best stays
    (scored(19, 20), scored(9, 20), False, "significantly higher"),
    (scored(10, 20), scored(11, 20), False, None),
    (scored(10, 20, tokens=1), scored(10, 20, tokens=22), False, "simpler"),  # a tie: the shorter prompt
    (scored(10, 20, cost=0.001), scored(11, 20, cost=0.004), True, "cheaper per call"),  # no significant difference
    (scored(11, 20, cost=0.004), scored(10, 20, cost=0.001), True, None),       # higher, not significantly: dearer
    (scored(19, 20, cost=0.004), scored(9, 20, cost=0.001), True, "significantly higher"),
    (scored(9, 20, cost=0.0001), scored(19, 20, cost=0.004), True, None),      # significantly worse, however cheap
    (scored(10, 20, tokens=80), scored(10, 20, tokens=120), True, "cheaper per call"),  # tokens where no price
    (scored(10, 20, cost=0.001), scored(10, 20), True, None),                   # one unpriced: tokens unknown
])
def test_choose_the_winner(challenger, best, cheaper, chosen):
    from promptloop.optimize.acceptance import choose

    got = choose(challenger, best, cheaper, 0.05)
    assert (got is None) == (chosen is None) and (chosen is None or chosen in got), got


def rates(passing: list[int], n: int) -> dict[str, float]:
    return {f"t{i}": 1.0 if i in passing else 0.0 for i in range(n)}


@pytest.mark.parametrize("before, after, n, confirmed, says", [
    ([], list(range(15)), 40, True, "holds on them"),
    ([0, 1], [0, 1, 2, 3, 4], 40, False, "do not confirm"),
    ([], [0, 1, 2], 8, False, "too few"),         # 3 fixed of 8: a big gain, on too few cases to claim it
    ([0, 1, 2], [0], 40, False, "do not confirm"),  # worse
])
def test_what_the_held_out_part_says(before, after, n, confirmed, says):
    from promptloop.optimize.acceptance import held_out_evidence

    ev = held_out_evidence(rates(before, n), rates(after, n), 0.05)
    assert ev["confirmed"] == confirmed and says in ev["verdict"] and ev["cases"] == n
    lo, hi = ev["winner_interval"]
    assert lo <= ev["winner"] <= hi
    if says == "too few":
        needed = int(ev["verdict"].split("at least ")[1].split()[0])
        assert needed >= 20


def test_the_commit_never_claims_what_its_held_out_part_does_not_back():
    from promptloop.optimize.acceptance import held_out_evidence
    from promptloop.optimize.publish import Winner, commit_message
    from promptloop.repo.prompts import GoldenSet

    prompt = prompt_from_text("cls", Path("prompts/cls.yaml"), PROMPT)
    golden = GoldenSet("cls", Path(__file__), [], None)
    for ev, verb in ((held_out_evidence(rates([], 40), rates(list(range(15)), 40), 0.05), "improve"),
                     (held_out_evidence(rates([], 8), rates([0, 1, 2], 8), 0.05), "candidate for")):
        w = Winner([], None, "proposer", "r", 0, 0.5, 0.9, {}, {}, 1, [], [], {}, test_evidence=ev, cases=30)
        message = commit_message(w, prompt, golden, baseline=None, models={"task": "t", "proposer": "p"}, seed=0,
                                 run_id="r")
        assert message.startswith(f"promptloop: {verb} cls") and ev["verdict"] in message


def test_each_scored_candidate_carries_the_interval_of_its_rate():
    from promptloop.scoring.significance import wilson

    s = scored(15, 20)
    low, high = s.log()["interval"]
    assert (low, high) == wilson(15, 20) and low < 0.75 < high and high - low > 0.3  # 20 cases: wide
    from promptloop.optimize.outcome import Scored

    assert Scored(s.candidate).log()["interval"] is None  # not scored in full: nothing to bound


@pytest.mark.parametrize("n, alpha, flips, points, cases", [
    (32, 0.05, 5, 16, 100),   # the bench's validation cases: a +16-point gain at best is all it can tell
    (40, 0.01, 7, 18, 140),   # a stricter alpha needs more flips: 0.5**6 = 0.016 is not below 0.01
    (8, 0.05, 5, 62, 100),
    (100, 0.05, None, None, None),  # 5 flips in 100 cases are 5 points: fine enough, nothing to say
    (0, 0.05, None, None, None),
    (3, 0.05, 5, None, 100),  # fewer cases than flips: nothing at all can be told apart
])
def test_what_a_golden_set_of_n_cases_can_tell_apart(n, alpha, flips, points, cases):
    from promptloop.optimize.acceptance import resolution
    from promptloop.scoring.significance import sign_test

    said = resolution(n, alpha)
    if cases is None:
        assert said == ""
        return
    assert sign_test(flips, 0) < alpha <= sign_test(flips - 1, 0)  # the fewest one-way flips it confirms
    assert f"at least {cases} cases" in said
    if points is None:
        assert said.startswith(f"on {n} cases no candidate can be told") and "points)" not in said
        return
    assert f"at least {flips} the other fails" in said and f"(+{points} points)" in said
    assert sign_test(round(cases * 0.05), 0) < alpha  # that many cases do resolve a 5-point gain

