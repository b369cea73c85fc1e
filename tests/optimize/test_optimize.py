"""promptloop optimize with the fake model, in real temporary git repositories."""

from __future__ import annotations

import asyncio
import json

import pytest

from promptloop.errors import GitError
from promptloop.flows.optimize import optimize_prompt
from promptloop.git.commits import trailers
from promptloop.model.client import Request
from promptloop.optimize.outcome import Options
from promptloop.optimize.runlog import list_runs
from promptloop.repo.config import load_config
from promptloop.testing import FakeModel
from tests.classifier import CASES, CONFIG, EXPECTED, PROMPT, golden_yaml
from tests.gitrepo import commit_files, git, init_repo, snapshot


def task_answer(request: Request) -> str:
    """Baseline answers 'A' to everything; 'MAGIC' instructions answer right; 'BREAK' also breaks c1."""
    system = request.messages[0]["content"]
    q = request.messages[-1]["content"].removeprefix("Item: ")
    if "MAGIC" in system:
        if "BREAK" in system and q == "apple pie recipe":
            return "B"
        return EXPECTED[q]
    return "A"


def fake(proposals: list[dict]) -> FakeModel:
    def respond(request: Request) -> str:
        if request.purpose == "proposer":
            return json.dumps({"candidates": proposals})
        return task_answer(request)

    return FakeModel(responder=respond)


@pytest.fixture
def prepo(tmp_path):
    root = tmp_path / "p"
    init_repo(root, {"promptloop.yaml": CONFIG, "prompts/cls.yaml": PROMPT, "golden/cls.yaml": golden_yaml(),
                     "README.md": "readme\n", ".gitignore": ".promptloop/\n"})
    return root


def run(root, client, **kw):
    options = Options(rounds=kw.pop("rounds", 1), candidates=kw.pop("candidates", 3), patience=1,
                      calls=kw.pop("calls", None), seed=0, slice_size=kw.pop("slice_size", 8))
    client.budget = options.budget()  # the fake is opened with the run's budget, as open_client does
    return asyncio.run(optimize_prompt(load_config(root), "cls", options, client=client, **kw))


def test_winner_committed_on_branch_checkout_untouched(prepo):
    # A dirty working tree and untracked files elsewhere must survive byte for byte.
    (prepo / "README.md").write_text("local edits\n")
    (prepo / "notes.txt").write_text("untracked\n")
    git(prepo, "add", "README.md")
    (prepo / "README.md").write_text("more local edits\n")
    before = snapshot(prepo)
    report = run(prepo, fake([{"rationale": "name the rule", "instructions": "Classify the item. MAGIC"}]))
    assert snapshot(prepo) == before

    o = report.outcome
    assert o.status == "improved" and o.winner.candidate.origin == "proposer"
    assert o.baseline_rate == 0.5 and o.winner.full_rate == 1.0
    branch = report.shipped.branch
    assert branch.startswith("pl/cls-")
    assert git(prepo, "rev-parse", f"{branch}~1").strip() == before["HEAD"].strip()
    assert git(prepo, "diff", "--name-only", "HEAD", branch).split() == ["prompts/cls.yaml"]
    diff = git(prepo, "diff", "-U0", "HEAD", branch)
    changed = [ln for ln in diff.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    assert changed == ["-      Classify the item.", "+      Classify the item. MAGIC"]

    message = git(prepo, "log", "-1", "--format=%B", branch)
    assert message.startswith("promptloop: improve cls (pass rate 0.50 -> 1.00 on 10 cases)")
    table = [[cell.strip() for cell in ln.strip("|").split("|")] for ln in message.splitlines() if ln.startswith("|")]
    assert table[0] == ["metric", "baseline", "winner"]
    assert ["pass_rate", "0.5", "1"] in [[r[0], *(f"{float(x):g}" for x in r[1:])] for r in table[2:]]
    # subject, table and trailers: the same numbers from the same cases
    t = trailers(message)
    assert (float(t["Promptloop-Baseline-Pass-Rate"]), float(t["Promptloop-Pass-Rate"])) == (0.5, 1.0)
    assert "5 case(s) fixed, 0 regressed" in message
    t = trailers(message)
    assert t["Promptloop-Prompt"] == "cls"
    assert t["Promptloop-Baseline"] == git(prepo, "rev-parse", "HEAD:prompts/cls.yaml").strip()
    assert t["Promptloop-Task-Model"] == "fake/task" and t["Promptloop-Seed"] == "0"
    assert t["Promptloop-Golden-Hash"].startswith("sha256:")
    # The run was logged with every candidate.
    runs = list_runs(prepo / ".promptloop")
    assert runs[0]["id"] == report.run_id and runs[0]["branch"] == branch
    assert {c["origin"] for c in runs[0]["candidates"]} >= {"proposer", "fewshot"}


def test_candidate_breaking_a_critical_case_is_rejected(prepo):
    before = snapshot(prepo)
    report = run(prepo, fake([{"rationale": "x", "instructions": "Classify. MAGIC BREAK"}]))
    o = report.outcome
    assert o.status == "no-improvement" and report.shipped is None
    breaker = next(c for c in o.candidates if c.candidate.origin == "proposer")
    assert breaker.status == "not-accepted" and "critical case(s) c1" in breaker.reason
    assert git(prepo, "branch", "--list", "pl/*").strip() == ""
    assert snapshot(prepo) == before


def test_guards_reject_dropped_variable_and_leakage(prepo, monkeypatch):
    proposals = [{"rationale": "drop", "instructions": "MAGIC but no variable"},
                 {"rationale": "leak", "instructions": "MAGIC. Remember: blueberry muffin tin is B."}]

    def respond(request: Request) -> str:
        if request.purpose == "proposer":
            return json.dumps({"candidates": proposals})
        return task_answer(request)

    client = FakeModel(responder=respond)
    # The first proposal replaces the user template too: simulate by making the proposer rewrite everything.
    from promptloop.optimize import candidates as C
    from promptloop.optimize import search

    original = C.parse_proposals

    def parse(text, base, parent, demos=None, tools=None):
        out = original(text, base, parent, demos, tools)
        out[0].messages = [{"role": "system", "content": "MAGIC"}, {"role": "user", "content": "Item:"}]
        return out

    monkeypatch.setattr(search, "parse_proposals", parse)  # where the search looks it up
    report = run(prepo, client, candidates=4)
    by_reason = {c.candidate.rationale: c for c in report.outcome.candidates if c.candidate.origin == "proposer"}
    assert by_reason["drop"].status == "rejected" and "drops template variable(s) q" in by_reason["drop"].reason
    assert by_reason["leak"].status == "rejected" and "leaks held-out case c4" in by_reason["leak"].reason
    # rejected candidates cost no task call
    assert not any("MAGIC" in r.messages[0]["content"] for r in client.calls("task"))


def test_budget_caps_calls_exactly(prepo):
    for cap in (7, 13, 25):
        client = fake([{"rationale": "x", "instructions": "Classify. MAGIC"}])
        report = run(prepo, client, calls=cap, rounds=3, commit=False)
        assert len(client.history) <= cap
        assert report.outcome.usage["calls"] == len(client.history)
        if len(client.history) < cap:
            assert report.outcome.stop_reason and "budget" not in report.outcome.stop_reason
        else:
            assert "budget" in report.outcome.stop_reason


def test_uncommitted_prompt_stops_with_message(prepo):
    (prepo / "prompts" / "cls.yaml").write_text(PROMPT.replace("Classify the item.", "Classify it."))
    with pytest.raises(GitError, match=r"uncommitted changes in prompts/cls\.yaml"):
        run(prepo, fake([]))


def test_dry_run_makes_no_call(prepo):
    client = fake([])
    report = run(prepo, client, dry_run=True)
    assert report.outcome.status == "dry-run" and client.history == []
    assert report.outcome.plan.estimate_calls > 0


def test_rerun_continues_without_paying_again(prepo, tmp_path):
    """With the real cache: a second identical run makes no new task or proposer call."""
    from promptloop.model.client import LM

    client = fake([{"rationale": "x", "instructions": "Classify. MAGIC"}])

    class Cached(LM):
        async def _with_retries(self, request):  # the fake model behind the real cache
            return await client.complete(request)

    def once():
        async def go():
            async with Cached(cache_path=tmp_path / "cache.sqlite") as lm:
                return await optimize_prompt(load_config(prepo), "cls",
                                             Options(rounds=1, candidates=3, patience=1), client=lm, commit=False)
        return asyncio.run(go())

    first = once()
    paid = len(client.history)
    second = once()
    assert len(client.history) == paid
    assert second.outcome.winner.candidate.id == first.outcome.winner.candidate.id


def test_failed_traces_with_corrections_join_the_failures(prepo):
    from promptloop.flows.ingest import import_files
    from promptloop.repo.config import load_config
    from promptloop.repo.prompts import load_prompt

    config = load_config(prepo)
    prompt = load_prompt(config, "cls")
    rec = {"promptloop_trace": 1, "id": "p1", "messages": prompt.render({"q": "banana split sundae"}),
           "output": "A", "feedback": [{"kind": "correction", "value": "B"}]}
    no_fix = {"promptloop_trace": 1, "id": "p2", "messages": prompt.render({"q": "bread"}), "output": "??"}
    f = prepo.parent / "t.jsonl"
    f.write_text(json.dumps(rec) + "\n" + json.dumps(no_fix) + "\n")
    import_files(config, [f])
    EXPECTED["banana split sundae"] = "B"
    try:
        client = fake([{"rationale": "x", "instructions": "Classify. MAGIC"}])
        report = run(prepo, client, commit=False)
    finally:
        del EXPECTED["banana split sundae"]
    assert report.outcome.plan.cases == 11  # 10 golden + the corrected trace (the other has no expected value)
    asked = [r.messages[-1]["content"] for r in client.calls("task")]
    assert "Item: banana split sundae" in asked and "Item: bread" not in asked
    assert report.outcome.status == "improved"


def test_traces_promoted_to_golden_cases_are_counted_once(prepo):
    """After `golden add --from-traces`, the store's failed traces are the golden cases made from them: the
    optimiser must not add them again (they would count twice and leak into each other as held-out cases)."""
    from promptloop.flows.ingest import import_files
    from promptloop.repo.config import load_config
    from promptloop.repo.prompts import load_prompt
    from promptloop.traces.to_golden import promote

    config = load_config(prepo)
    prompt = load_prompt(config, "cls")
    recs = [{"promptloop_trace": 1, "id": f"p{i}", "messages": prompt.render({"q": q}), "output": "A",
             "feedback": [{"kind": "correction", "value": "B"}]} for i, q in enumerate(["banana split", "bun"])]
    f = prepo.parent / "t.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in recs))
    import_files(config, [f])
    assert len(promote(config, "cls", failed=True).added) == 2
    git(prepo, "commit", "-qam", "cases from traces")
    EXPECTED.update({"banana split": "B", "bun": "B"})
    try:
        report = run(prepo, fake([{"rationale": "x", "instructions": "Classify. MAGIC"}]), commit=False)
    finally:
        del EXPECTED["banana split"], EXPECTED["bun"]
    assert report.outcome.plan.cases == 12  # 10 golden + the 2 promoted, each once
    assert not any("leaks held-out case" in c.reason for c in report.outcome.candidates)


def test_clearly_worse_candidate_stops_on_the_slice(prepo):
    def respond(request: Request) -> str:
        if request.purpose == "proposer":
            return json.dumps({"candidates": [{"rationale": "bad", "instructions": "WORSE"}]})
        return "C" if request.messages[0]["content"] == "WORSE\n" else task_answer(request)

    client = FakeModel(responder=respond)
    report = run(prepo, client, candidates=2, slice_size=2)
    bad = next(c for c in report.outcome.candidates if c.candidate.rationale == "bad")
    assert bad.status == "stopped-early" and "worse than the incumbent on the slice" in bad.reason
    bad_calls = [r for r in client.calls("task") if r.messages[0]["content"] == "WORSE\n"]
    assert 0 < len(bad_calls) < len(CASES)  # never ran on the full set


def test_second_round_builds_on_a_fewshot_incumbent(prepo):
    """The demonstration race crowns a few-shot candidate; the next round's candidates keep its
    demonstrations, are not mistaken for leaks, and are compared on the cases both versions can be scored on."""

    def respond(request: Request) -> str:
        if request.purpose == "proposer":
            return json.dumps({"candidates": [{"rationale": f"try {request.sample}",
                                               "instructions": f"Classify the item. R{request.sample}"}]})
        if len(request.messages) > 2:  # demonstrations present: the tiny model finally gets it
            return EXPECTED[request.messages[-1]["content"].removeprefix("Item: ")]
        return "A"

    client = FakeModel(responder=respond)
    report = run(prepo, client, rounds=2, candidates=3, commit=False)
    o = report.outcome
    assert o.rounds >= 1 and o.status == "improved" and o.winner.candidate.origin == "fewshot"
    second = [c for c in o.candidates if c.candidate.rationale == "try 0"]
    assert second and second[0].status != "rejected", second[0].reason
    first_winner = next(c for c in o.candidates if c.status == "accepted")
    assert second[0].candidate.parent == first_winner.candidate.id
    assert second[0].candidate.demos == first_winner.candidate.demos != []


def test_a_pyyaml_written_prompt_file_commits_cleanly(tmp_path):
    import yaml as pyyaml

    root = tmp_path / "py"
    data = pyyaml.safe_load(PROMPT)
    text = pyyaml.safe_dump(data, sort_keys=False)
    assert "\n- role: system" in text  # items not indented under the key, as PyYAML writes them
    init_repo(root, {"promptloop.yaml": CONFIG, "prompts/cls.yaml": text, "golden/cls.yaml": golden_yaml(),
                     ".gitignore": ".promptloop/\n"})
    report = run(root, fake([{"rationale": "name the rule", "instructions": "Classify the item. MAGIC"}]))
    assert report.shipped is not None
    committed = git(root, "show", f"{report.shipped.branch}:prompts/cls.yaml")
    assert "MAGIC" in pyyaml.safe_load(committed)["messages"][0]["content"]
    assert committed.split("messages:")[0] == text.split("messages:")[0]


def test_a_failed_commit_keeps_the_winner_and_runs_apply_commits_it(prepo, cli, monkeypatch):
    from promptloop.cli import app
    from promptloop.flows import optimize as flow

    def broken_ship(*args, **kwargs):
        raise GitError("simulated: could not write the branch")

    monkeypatch.setattr(flow, "ship", broken_ship)
    before = snapshot(prepo)
    with pytest.raises(GitError) as e:
        run(prepo, fake([{"rationale": "name the rule", "instructions": "Classify the item. MAGIC"}]))
    assert "promptloop runs apply" in str(e.value) and e.value.exit_code == 2
    assert snapshot(prepo) == before and git(prepo, "branch", "--list", "pl/*").strip() == ""
    run_id = str(e.value).split("promptloop runs apply ")[1].split("`")[0]
    saved = list_runs(prepo / ".promptloop")[0]
    assert saved["id"] == run_id and "MAGIC" in saved["winner_record"]["messages"][0]["content"]

    monkeypatch.undo()
    # A run log is a file like any other: a winner tampered with is checked again, and refused.
    log_file = next((prepo / ".promptloop" / "runs").glob(f"{run_id}*"))
    original = log_file.read_text()
    log_file.write_text(original.replace("Classify the item. MAGIC", "Classify {{secret_var}}. MAGIC"))
    r = cli.invoke(app, ["-C", str(prepo), "runs", "apply", run_id])
    assert r.exit_code == 2 and "secret_var" in r.output and "Traceback" not in r.output, r.output
    assert git(prepo, "branch", "--list", "pl/*").strip() == ""
    log_file.write_text(original)
    r = cli.invoke(app, ["-C", str(prepo), "runs", "apply", run_id])
    assert r.exit_code == 0, r.output
    branch = git(prepo, "branch", "--list", "pl/*").strip()
    assert branch and "MAGIC" in git(prepo, "show", f"{branch}:prompts/cls.yaml")
    assert snapshot(prepo) == before


def test_degenerate_proposals_are_rejected_without_a_scored_call(prepo):
    placeholder = {"rationale": "<why this fixes the failures>", "instructions": "<the full new instructions>"}
    echo = {"rationale": "x", "instructions": "<current_instructions>\nClassify the item.\n</current_instructions>"}
    code = {"rationale": "x", "instructions": "```python\nprint('A')\n```"}
    client = fake([placeholder, echo, code])
    report = run(prepo, client, candidates=6, rounds=1)
    proposed = [c for c in report.outcome.candidates if c.candidate.origin == "proposer"]
    assert proposed and all(c.status == "rejected" and c.reason.startswith("degenerate proposal") for c in proposed)
    scored_texts = {r.messages[0]["content"] for r in client.calls("task")}
    assert not any("<" in t and ">" in t for t in scored_texts)  # none of them cost a task call


def test_a_label_prompt_decodes_under_its_labels_for_every_candidate_unless_it_opts_out(prepo):
    seen = []

    def respond(request: Request) -> str:
        if request.purpose == "proposer":
            return json.dumps({"candidates": [{"rationale": "x", "instructions": "Classify the item please."}]})
        seen.append("response_format" in request.params)
        q = request.messages[-1]["content"].removeprefix("Item: ")
        if "response_format" in request.params:  # decoded under the label set: always a clean label
            return json.dumps({"answer": EXPECTED[q]})
        return "Hmm, could be A or B." if q.startswith("b") else "A"

    report = run(prepo, FakeModel(responder=respond), candidates=4)
    assert seen and all(seen)  # the baseline and every candidate: no winner can answer outside the set
    assert report.outcome.winner is None or report.outcome.winner.candidate.output is None
    text = (prepo / "prompts" / "cls.yaml").read_text() + "output: {choices: free}\n"
    commit_files(prepo, {"prompts/cls.yaml": text}, "free text")
    seen.clear()
    run(prepo, FakeModel(responder=respond), candidates=4, commit=False)
    assert seen and not any(seen)  # opted out: free text, and no candidate puts the label set back


def test_no_commit_prints_the_winner_as_a_diff_and_runs_show_has_each_candidate(prepo, cli, monkeypatch):
    from promptloop.cli import app

    proposal = {"candidates": [{"rationale": "name the rule", "instructions": "Classify the item. MAGIC"}]}

    def respond(body):
        system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
        if "<current_instructions>" in user:
            return json.dumps(proposal)
        q = user.removeprefix("Item: ")
        return EXPECTED.get(q, "A") if "MAGIC" in system else "A"

    from promptloop.testing import FakeServer

    with FakeServer(answer=respond) as server:
        cfg = CONFIG.replace("task: fake/task", f"task: {{name: openai/x, api_base: '{server.api_base}'}}")
        cfg = cfg.replace("proposer: fake/proposer", f"proposer: {{name: openai/x, api_base: '{server.api_base}'}}")
        (prepo / "promptloop.yaml").write_text(cfg)
        r = cli.invoke(app, ["-C", str(prepo), "optimize", "cls", "--no-commit", "--rounds", "1"])
    assert r.exit_code == 0, r.output
    assert "-Classify the item." in r.output and "+Classify the item. MAGIC" in r.output
    run_id = list_runs(prepo / ".promptloop")[0]["id"]
    shown = cli.invoke(app, ["-C", str(prepo), "runs", "show", run_id])
    assert shown.exit_code == 0 and shown.output.count("+Classify the item. MAGIC") >= 1 and "@@" in shown.output
    assert "by more than luck only if" in " ".join(shown.output.split())  # a handful of cases: say how coarse


def test_a_held_out_test_part_is_never_used_to_choose_and_is_reported(tmp_path):
    from promptloop.optimize.acceptance import held_out_test_ids

    root = tmp_path / "big"
    cases = [(f"k{i}", f"{'apple' if i % 2 else 'banana'} item {i}", "A" if i % 2 else "B", False)
             for i in range(30)]
    lines = ["cases:"] + [f"  - id: {cid}\n    inputs: {{q: {q}}}\n    expected: {exp}" for cid, q, exp, _ in cases]
    init_repo(root, {"promptloop.yaml": CONFIG, "prompts/cls.yaml": PROMPT, "golden/cls.yaml": "\n".join(lines) + "\n",
                     ".gitignore": ".promptloop/\n"})
    expected = {q: exp for _, q, exp, _ in cases}

    def respond(request: Request) -> str:
        if request.purpose == "proposer":
            return json.dumps({"candidates": [{"rationale": "r", "instructions": "Classify the item. MAGIC"}]})
        q = request.messages[-1]["content"].removeprefix("Item: ")
        return expected[q] if "MAGIC" in request.messages[0]["content"] else "A"

    client = FakeModel(responder=respond)
    report = run(root, client, commit=False)
    held = set(held_out_test_ids([c[0] for c in cases], 0))
    baseline = sum(1 for cid, _, exp, _ in cases if cid in held and exp == "A") / len(held)
    assert len(held) == 6 and report.outcome.test_rates == (baseline, 1.0)
    assert not any(held & set(c.candidate.demos) for c in report.outcome.candidates)  # never a demonstration
    log = list_runs(root / ".promptloop")[0]
    assert any("held-out test part" in e.get("text", "") for e in log["events"])


def test_stagnation_does_not_stop_the_search_with_most_of_the_budget_unspent(prepo):
    def respond(request: Request) -> str:
        if request.purpose == "proposer":
            return json.dumps({"candidates": [{"rationale": "r", "instructions": f"Try {request.sample}."}]})
        return "A"  # nothing ever helps

    unlimited = run(prepo, FakeModel(responder=respond), rounds=3, calls=None).outcome
    assert unlimited.rounds == 1 and "without improvement" in unlimited.stop_reason
    generous = run(prepo, FakeModel(responder=respond), rounds=3, calls=5000).outcome
    assert generous.rounds == 3 and generous.stop_reason == "3 round(s) done"


def test_a_candidate_built_from_data_alone_counts_every_failure_it_fixes(prepo):
    """The held-out failures guard against a proposer fitting the failures it was shown. Demonstrations saw no
    failure, so fixing shown ones is fine for them; a proposer that fixes only what it was shown is refused."""
    from promptloop.optimize.acceptance import split_failures

    ids = {q: cid for cid, q, _, _ in CASES}
    shown, held = split_failures([cid for cid, _, exp, _ in CASES if exp == "B"], 0)
    assert shown and held

    def respond(request: Request) -> str:
        if request.purpose == "proposer":
            return json.dumps({"candidates": [{"rationale": "fit", "instructions": "Classify the item. MAGIC"}]})
        q = request.messages[-1]["content"].removeprefix("Item: ")
        helped = len(request.messages) > 2 or "MAGIC" in request.messages[0]["content"]
        return EXPECTED[q] if helped and ids[q] in shown else "A"  # every candidate fixes only the shown ones

    report = run(prepo, FakeModel(responder=respond), rounds=1, candidates=2, commit=False)
    o = report.outcome
    assert o.status == "improved" and o.winner.candidate.origin == "fewshot"
    assert "held-out" not in o.winner.reason and "failure(s)" in o.winner.reason, o.winner.reason
    proposed = [c for c in o.candidates if c.candidate.origin == "proposer"]
    assert proposed and proposed[0].reason == "fixes none of the held-out failures", proposed[0].reason



def test_a_demonstration_set_that_wins_a_round_is_tried_with_the_format_instruction_next(tmp_path):
    """No cross-validated recipe helps (a fold holds too few cases for seven demonstrations); round 1's set of
    eight does; round 2 then tries the format instruction on top of it, not only on the original prompt."""
    items = {f"{kind} item {i}": kind.upper() for kind in ("a", "b") for i in range(8)}
    root = tmp_path / "f"
    init_repo(root, {"promptloop.yaml": CONFIG, "prompts/cls.yaml": PROMPT, ".gitignore": ".promptloop/\n",
                     "golden/cls.yaml": "cases:\n" + "".join(f"  - {{id: x{n}, inputs: {{q: {q}}}, expected: {e}}}\n"
                                                             for n, (q, e) in enumerate(items.items()))})

    def respond(request: Request) -> str:
        if request.purpose == "proposer":
            return json.dumps({"candidates": []})
        q = request.messages[-1]["content"].removeprefix("Item: ")
        return items[q] if len(request.messages) >= 2 + 2 * 7 and q != "b item 7" else "A"  # one stays wrong

    report = run(root, FakeModel(responder=respond), rounds=2, candidates=8, commit=False)
    o = report.outcome
    first = next(c for c in o.candidates if c.status == "accepted")
    assert first.candidate.origin == "fewshot" and len(first.candidate.demos) == 8, [c.reason for c in o.candidates]
    formats = [c.candidate for c in o.candidates if c.candidate.origin == "format"]
    assert any(f.demos == first.candidate.demos for f in formats), [(f.demos, f.parent) for f in formats]


SMALL_PROMPT = """\
inputs: [q]
messages:
  - {role: system, content: Classify the item.}
  - {role: user, content: "Item: {{q}}"}
"""


def test_the_plan_says_when_the_golden_set_is_too_small_to_tell_candidates_apart(tmp_path):
    from promptloop.optimize.search import Optimizer
    from promptloop.repo.prompts import Case, GoldenSet, prompt_from_text

    (tmp_path / "promptloop.yaml").write_text("models: {default: local/smollm2}\n")
    prompt = prompt_from_text("cls", tmp_path / "prompts/cls.yaml", SMALL_PROMPT)
    small = GoldenSet("cls", tmp_path / "golden/cls.yaml",
                      [Case(f"c{i}", {"q": str(i)}, "yes") for i in range(12)], None)
    big = GoldenSet("cls", tmp_path / "golden/cls.yaml",
                    [Case(f"c{i}", {"q": str(i)}, "yes") for i in range(150)], None)
    plans = [Optimizer(load_config(tmp_path), prompt, g, None, Options()).plan() for g in (small, big)]  # type: ignore[arg-type]
    assert plans[0].cases == 12 and "on 12 cases" in plans[0].resolution and plans[0].log()["resolution"]
    assert plans[1].resolution == ""  # 120 cases after the test part: 5 points are within reach
