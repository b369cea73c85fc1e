"""Calibration of a closed set's answers (optimize/calibration.py): fitted without a label, applied only for
the model it was fitted for, found by optimize when the model gives choice scores."""

from __future__ import annotations

import asyncio
import math

import pytest

from promptloop.errors import ConfigError
from promptloop.model.client import Request
from promptloop.optimize.calibration import fit_bias, label_shares, normalised
from promptloop.optimize.outcome import Options
from promptloop.repo.config import load_config
from promptloop.repo.prompts import load_prompt
from promptloop.scoring.evaluate import request_params
from promptloop.testing import FakeModel
from tests.classifier import CASES, PROMPT, golden_yaml
from tests.gitrepo import init_repo

LOCAL_CONFIG = "models:\n  task: local/fake\n  proposer: fake/proposer\n  judge: fake/judge\nbranch_prefix: pl\n"


def test_scores_are_normalised_over_the_choices_only():
    n = normalised({"a": -1.0, "b": -3.0, "other": 5.0}, ["a", "b"])
    assert math.exp(n["a"]) + math.exp(n["b"]) == pytest.approx(1.0) and n["a"] - n["b"] == pytest.approx(2.0)


@pytest.mark.parametrize("labels, expected", [
    (["a", "b"], {"a": 0.5, "b": 0.5}),
    (["a", "a", "a"], {"a": 0.8, "b": 0.2}),  # add-one: a choice no case expects keeps a share
    ([], {"a": 0.5, "b": 0.5}),
])
def test_label_shares(labels, expected):
    assert label_shares(labels, ["a", "b"]) == pytest.approx(expected)


def biased(n: int, margin: float, lean: float) -> list[dict[str, float]]:
    """n inputs, half of each kind: ``margin`` separates the kinds, every one leans ``lean`` towards b."""
    return [{"a": (margin if i % 2 else 0.0), "b": lean} for i in range(n)]


@pytest.mark.parametrize("scores, shares, check", [
    # Every answer leans to b, but the scores still separate the kinds: the bias moves the line between them.
    (biased(20, 2.0, 3.0), {"a": 0.5, "b": 0.5}, lambda b: b["a"] == 0 and b["b"] < -1.5),
    # Already balanced: no shift.
    (biased(20, 2.0, 1.0), {"a": 0.5, "b": 0.5}, lambda b: abs(b["b"]) < 1e-9),
    # Golden labels mostly b: the target keeps the answers mostly b.
    (biased(20, 2.0, 1.0), {"a": 0.2, "b": 0.8}, lambda b: b["b"] > 1.0),
    # Too few inputs to fit on.
    (biased(6, 2.0, 3.0), {"a": 0.5, "b": 0.5}, lambda b: b is None),
])
def test_fit_bias(scores, shares, check):
    assert check(fit_bias(scores, shares))


def test_the_fitted_bias_spreads_the_answers_as_the_labels():
    scores = biased(40, 2.0, 3.0)  # uncalibrated, every answer is b
    bias = fit_bias(scores, {"a": 0.5, "b": 0.5})
    answers = [max(s, key=lambda c: s[c] + bias[c]) for s in scores]
    assert answers.count("a") == answers.count("b") == 20


CALIBRATED = PROMPT.replace("golden: cls", "output:\n  calibration:\n    model: local/fake\n"
                                           "    bias: {A: 0.0, B: -1.5}\ngolden: cls")


def test_a_calibration_is_sent_only_to_the_model_it_was_fitted_for(tmp_path):
    root = tmp_path / "r"
    init_repo(root, {"promptloop.yaml": LOCAL_CONFIG, "prompts/cls.yaml": CALIBRATED, "golden/cls.yaml": golden_yaml()})
    prompt = load_prompt(load_config(root), "cls")
    assert request_params(prompt, model="local/fake")["label_bias"] == {"A": 0.0, "B": -1.5}
    assert "label_bias" not in request_params(prompt, model="openai/gpt-4o-mini")
    assert "label_bias" not in request_params(prompt)


@pytest.mark.parametrize("text, where", [
    (CALIBRATED.replace("{A: 0.0, B: -1.5}", "{A: 0.0, C: -1.5}"), "'C', which is not a choice"),
    (CALIBRATED.replace("golden: cls", "").replace("output:\n", "output:\n  choices: free\n"), "free text"),
])
def test_a_calibration_that_cannot_apply_is_refused_with_its_line(tmp_path, text, where):
    root = tmp_path / "r"
    init_repo(root, {"promptloop.yaml": LOCAL_CONFIG, "prompts/cls.yaml": text, "golden/cls.yaml": golden_yaml()})
    with pytest.raises(ConfigError) as e:
        load_prompt(load_config(root), "cls")
    assert where in str(e.value) and "cls.yaml" in str(e.value) and e.value.line


KIND = {q: exp for _, q, exp, _ in CASES}


def optimize_with(tmp_path, respond, config: str = LOCAL_CONFIG, golden: str | None = None, commit: bool = False):
    """optimize on the classifier repo, the model played by ``respond``: (outcome, the fake with its history)."""
    from promptloop.flows.optimize import optimize_prompt

    root = tmp_path / "r"
    init_repo(root, {"promptloop.yaml": config, "prompts/cls.yaml": PROMPT, "golden/cls.yaml": golden or golden_yaml(),
                     ".gitignore": ".promptloop/\n"})
    client = FakeModel(responder=lambda r: '{"candidates": []}' if r.purpose == "proposer" else respond(r))
    options = Options(rounds=1, candidates=2, patience=1, seed=0, slice_size=8)
    client.budget = options.budget()
    report = asyncio.run(optimize_prompt(load_config(root), "cls", options, client=client, commit=commit))
    return report.outcome, client


def ranks_right_leans_to_b(request: Request) -> dict:
    """Scores that put every A item above every B item, while B is the likelier answer for all."""
    return {"label_scores": {"A": -1.0 if KIND[request.messages[-1]["content"].removeprefix("Item: ")] == "A"
                             else -3.0, "B": -0.5}}


def test_optimize_fits_a_calibration_where_the_model_ranks_right_but_leans_one_way(tmp_path):
    """The model scores A items higher for A than B items, but prefers B for all: calibrated, it is right on all;
    no other candidate helps. The winner carries the calibration for the task model."""
    o, client = optimize_with(tmp_path, ranks_right_leans_to_b)
    assert o.baseline_rate == 0.5 and o.status == "improved", [c.reason for c in o.candidates]
    assert o.winner.candidate.origin == "calibrated" and o.winner.full_rate == 1.0
    assert o.winner.candidate.output["calibration"]["model"] == "local/fake"
    sent = [r.params.get("label_bias") for r in client.history if r.purpose == "task"]
    assert any(sent) and not all(sent)  # the baseline's calls carried none


@pytest.mark.parametrize("lead", ["Label: ", "The answer is "])
def test_a_model_that_reads_right_only_after_one_lead_wins_with_that_lead_and_a_bias_fitted_under_it(tmp_path, lead):
    """Under the JSON scaffold and the other leads the scores carry nothing; read after ``lead`` they rank every
    item right but lean to B. Each lead's pass is read; the likeliest reading's bias is fitted under it: the
    winner carries both, and is right on every case."""
    from promptloop.optimize.calibration import LEADS

    o, client = optimize_with(tmp_path, lambda r: ranks_right_leans_to_b(r) if r.params.get("label_lead") == lead
                              else {"label_scores": {"A": -1.0, "B": -1.0}})
    assert o.status == "improved" and o.winner.full_rate == 1.0, [c.reason for c in o.candidates]
    calibration = o.winner.candidate.output["calibration"]
    assert calibration["lead"] == lead and calibration["bias"]["B"] < 0 and calibration["model"] == "local/fake"
    led = [r for r in client.history if r.params.get("label_lead")]
    assert led and all(r.model == "local/fake" for r in led)
    assert {r.params["label_lead"] for r in led} == set(LEADS)  # every reading was read, to compare them


def loss_case(i: int) -> tuple[str, object]:
    from promptloop.repo.prompts import Case

    return f"c{i}", Case(f"c{i}", {"q": str(i)}, "A" if i % 2 else "B")


@pytest.mark.parametrize("scores, bias, expected", [
    ({"c1": {"A": 0.0, "B": 0.0}}, {"A": 0.0, "B": 0.0}, math.log(2)),  # a coin flip: log 2
    ({"c1": {"A": 0.0, "B": -math.log(3)}}, {"A": 0.0, "B": 0.0}, -math.log(0.75)),  # 3 to 1 for the right one
    ({"c1": {"A": 0.0, "B": 0.0}}, {"A": 0.0, "B": math.log(3)}, -math.log(0.25)),  # the bias counts
    ({"c9": {"A": 0.0, "B": 0.0}}, {"A": 0.0, "B": 0.0}, None),  # no golden case scored
])
def test_log_loss(scores, bias, expected):
    from promptloop.optimize.calibration import log_loss

    cases = dict(loss_case(i) for i in range(4))
    got = log_loss(scores, cases, bias)
    assert got == expected if expected is None else got == pytest.approx(expected)


def test_the_likeliest_reading_is_kept_and_every_readings_loss_is_named():
    from promptloop.optimize.calibration import LEADS, lead_probe, likeliest_reading
    from promptloop.optimize.candidates import make
    from promptloop.repo.prompts import prompt_from_text

    prompt = prompt_from_text("cls", __import__("pathlib").Path("prompts/cls.yaml"), PROMPT)
    base = make(prompt.messages, "baseline", "")
    probes = [lead_probe(base, prompt, "local/fake", lead) for lead in LEADS]
    cases = dict(loss_case(i) for i in range(20))
    flat = {i: {"A": -1.0, "B": -1.0} for i in cases}
    sharp = {i: {"A": -0.5 if c.expected == "A" else -3.0, "B": -1.0} for i, c in cases.items()}  # ranks right, leans
    scores = {probes[0].id: flat, probes[1].id: sharp, probes[2].id: flat}
    kept, note = likeliest_reading(probes, prompt, "local/fake", scores, cases)
    assert kept.output["calibration"]["lead"] == LEADS[1] and kept.output["calibration"]["bias"]
    assert all(repr(lead) in note for lead in LEADS) and note.endswith(f"kept {LEADS[1]!r}")
    tie, _ = likeliest_reading(probes, prompt, "local/fake", {p.id: flat for p in probes}, cases)
    assert tie.output["calibration"]["lead"] == LEADS[0] and not any(tie.output["calibration"]["bias"].values())


def test_a_committed_calibration_names_its_messages_and_validate_warns_once_they_change(tmp_path, cli):
    from promptloop.cli import app
    from tests.gitrepo import git

    optimize_with(tmp_path, ranks_right_leans_to_b, commit=True)
    root = tmp_path / "r"
    branch = git(root, "branch", "--list", "pl/*").strip().lstrip("* ")
    git(root, "checkout", "-q", branch)
    prompt = load_prompt(load_config(root), "cls")
    assert prompt.output["calibration"]["fitted_to"].startswith("sha256:") and prompt.stale_calibration() is None
    assert "warning" not in cli.invoke(app, ["-C", str(root), "validate"]).output
    path = root / "prompts" / "cls.yaml"
    path.write_text(path.read_text().replace("Item: {{q}}", "Product: {{q}}"))
    v = cli.invoke(app, ["-C", str(root), "validate"])
    assert v.exit_code == 0 and "warning: cls: its label calibration was fitted to other messages" in v.output, v.output
    # eval says so too, where the calibration applies: to the model it was fitted for
    from promptloop.flows.eval import EvalOptions, evaluate

    def warnings(model: str | None) -> list[str]:
        client = FakeModel(responder=lambda r: {"label_scores": {"A": -1.0, "B": -0.5}})
        return asyncio.run(evaluate(load_config(root), EvalOptions(("cls",), model=model), client=client))[0].warnings

    assert len(warnings(None)) == 1 and "fitted to other messages" in warnings(None)[0]
    assert warnings("fake/hosted") == []


def test_too_few_cases_to_fit_a_bias_on_spend_no_call_reading_after_the_lead(tmp_path):
    few = "cases:\n" + "".join(f"  - {{id: {cid}, inputs: {{q: {q}}}, expected: {exp}}}\n"
                                for cid, q, exp, _ in CASES[:6])
    _, client = optimize_with(tmp_path, ranks_right_leans_to_b, golden=few)
    assert client.history and not any("label_lead" in r.params for r in client.history)


def test_a_hosted_model_is_never_asked_to_read_after_a_lead(tmp_path):
    _, client = optimize_with(tmp_path, lambda r: '{"answer": "B"}', LOCAL_CONFIG.replace("local/fake", "fake/task"))
    assert client.history and not any("label_lead" in r.params or "label_bias" in r.params for r in client.history)


def test_an_app_loading_the_prompt_sends_the_bias_only_to_its_model(tmp_path):
    import promptloop

    root = tmp_path / "r"
    init_repo(root, {"promptloop.yaml": LOCAL_CONFIG, "prompts/cls.yaml": CALIBRATED, "golden/cls.yaml": golden_yaml()})
    loaded = promptloop.load("cls", repo=root)
    assert loaded.model == "local/fake" and loaded.request(q="x")["label_bias"] == {"A": 0.0, "B": -1.5}
    led = root / "prompts" / "cls.yaml"
    led.write_text(CALIBRATED.replace("    model: local/fake\n", "    model: local/fake\n    lead: 'Label: '\n"))
    assert promptloop.load("cls", repo=root).request(q="x")["label_lead"] == "Label: "
    hosted = root / "promptloop.yaml"
    hosted.write_text(LOCAL_CONFIG.replace("local/fake", "openai/gpt-4o-mini"))
    assert "label_bias" not in promptloop.load("cls", repo=root).request(q="x")


def test_a_candidate_with_other_messages_does_not_inherit_the_incumbents_calibration():
    from promptloop.optimize.candidates import inherit, make

    calibration = {"model": "local/fake", "bias": {"A": 0.0, "B": 1.0}}
    base = make([{"role": "user", "content": "x"}], "calibrated", "", output={"calibration": calibration})
    rewrite = inherit(make([{"role": "user", "content": "y"}], "proposer", ""), base)
    assert "calibration" not in (rewrite.output or {})
    same_text = inherit(make([{"role": "user", "content": "x"}], "format", ""), base)
    assert same_text.output == {"calibration": calibration}


def test_migrate_says_a_calibration_does_not_follow_the_prompt_to_another_model(tmp_path):
    from promptloop.flows.migrate import migrate

    root = tmp_path / "r"
    init_repo(root, {"promptloop.yaml": LOCAL_CONFIG, "prompts/cls.yaml": CALIBRATED, "golden/cls.yaml": golden_yaml()})
    client = FakeModel(responder=lambda request: {"label_scores": {"A": -1.0, "B": -1.2}})
    report = asyncio.run(migrate(load_config(root), client, to="openai/gpt-4.1-mini"))
    notes = report.migrations[0].verdict.notes
    assert any("fitted for local/fake" in n and "openai/gpt-4.1-mini" in n for n in notes), notes
    sent = {r.model: r.params.get("label_bias") for r in client.history}
    assert sent == {"local/fake": {"A": 0.0, "B": -1.5}, "openai/gpt-4.1-mini": None}


def test_the_rounds_best_candidate_is_tried_calibrated_too(tmp_path):
    """The prompt as written carries no signal, so calibrating it helps nothing; the format line ranks the items
    right but leans to B for all. Only the format line's calibrated twin is right on every case."""
    o, _ = optimize_with(tmp_path, lambda r: ranks_right_leans_to_b(r) if "Reply with exactly one of these labels"
                         in r.messages[0]["content"] else {"label_scores": {"A": -2.0, "B": -0.5}})
    fmt = next(c.candidate for c in o.candidates if c.candidate.origin == "format")
    assert o.status == "improved" and o.winner.full_rate == 1.0, [(c.candidate.origin, c.reason) for c in o.candidates]
    assert o.winner.candidate.origin == "calibrated" and o.winner.candidate.parent == fmt.id
    assert o.winner.candidate.messages == fmt.messages


@pytest.mark.parametrize("calls, cases, read", [
    (None, 32, 3),   # no call cap: every lead
    (300, 32, 3),    # the bench's budget: 96 calls on readings
    (300, 38, 2),
    (100, 30, 1),    # a small budget: the first lead only, as before there were more
    (10, 30, 1),
])
def test_a_small_budget_reads_fewer_leads(calls, cases, read):
    from promptloop.optimize.calibration import LEADS, affordable_leads

    assert affordable_leads(calls, cases) == LEADS[:read]
