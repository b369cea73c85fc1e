"""promptloop eval on the worked examples with the fake model: real scoring, scripted answers."""

from __future__ import annotations

import json

from promptloop.scoring.eval_run import load_task, run_eval
from promptloop.testing import FakeModel


def answers_from_golden(config, name, wrong: set[str] = frozenset(), fmt=str):
    """A fake model that answers each golden case with its expected value (wrong for ids in ``wrong``)."""
    _prompt, golden = load_task(config, name)
    fake = FakeModel()
    for case in golden.cases:
        needle = str(next(iter(case.inputs.values())))
        fake.on(needle, "WRONG" if case.id in wrong else fmt(case.expected))
    return fake, golden


def test_trec_with_fake_model(config):
    _prompt, golden = load_task(config, "trec")
    wrong = {golden.cases[0].id, golden.cases[5].id}
    fake, golden = answers_from_golden(config, "trec", wrong)
    report = run_eval(config, "trec", client=fake)
    s = report.summary
    assert s.cases == 38 and s.passed == 36
    assert s.metrics["accuracy"] == 36 / 38
    assert sum(v["support"] for v in s.labels.values()) == 38
    failing = {r.case_id for r in report.results if not r.passed}
    assert failing == wrong
    # the request carried the rendered template and the prompt's model settings
    req = fake.history[0]
    assert req.model == "local/smollm2" and req.params["temperature"] == 0 and req.params["max_tokens"] == 6
    assert golden.cases[0].inputs["question"] in req.messages[1]["content"]
    assert req.messages[0]["role"] == "system"


def test_hotel_slots_fields_and_schema(config):
    fake, _golden = answers_from_golden(config, "hotel_slots", fmt=json.dumps)
    report = run_eval(config, "hotel_slots", client=fake, limit=10)
    assert report.summary.passed == 10
    assert report.summary.metrics["field_f1"] == 1.0
    assert fake.history[0].params["response_format"]["type"] == "json_schema"


def test_hotel_slots_invalid_json_scores_zero_even_if_fields_partly_right(config):
    _prompt, golden = load_task(config, "hotel_slots")
    case = golden.cases[0]
    key, value = next(iter(case.expected.items()))
    fake = FakeModel(default=json.dumps({key: value, "bogus_field": "x"}))
    report = run_eval(config, "hotel_slots", client=fake, limit=1)
    r = report.results[0]
    assert not r.passed and r.score == 0.0  # the schema forbids bogus_field: hard failure gates the score
    assert "schema violation" in r.reason


def test_gsm8k_numeric(config):
    fake, _golden = answers_from_golden(config, "gsm8k", fmt=lambda e: f"Step one... Answer: {e}")
    report = run_eval(config, "gsm8k", client=fake)
    assert report.summary.metrics["numeric_accuracy"] == 1.0
    assert report.summary.metrics["mae"] == 0.0


def test_repeat_samples_each_case_with_its_own_seed(config):
    fake = FakeModel(queue=["NUM", "LOC", "NUM", "NUM"])
    report = run_eval(config, "trec", client=fake, limit=2, repeat=2)
    assert report.summary.samples == 4
    seeds = sorted(r.params["seed"] for r in fake.history)
    assert seeds == [1, 1, 2, 2]
    assert set(report.summary.per_case.values()) <= {0.0, 0.5, 1.0}


def test_thresholds_fail_the_run(config, repo):
    (repo / "prompts" / "trec.yaml").write_text(
        (repo / "prompts" / "trec.yaml").read_text() + "thresholds:\n  accuracy: 0.9\n")
    report = run_eval(config, "trec", client=FakeModel(default="NUM"), limit=5)
    assert not report.ok and report.missed[0].startswith("accuracy")


def test_llm_judge_is_soft_and_runs_only_after_hard_checks(config, repo):
    (repo / "prompts" / "trec.yaml").write_text((repo / "prompts" / "trec.yaml").read_text().replace(
        "golden: trec", "  - type: llm_judge\n    value: The label fits the question.\ngolden: trec"))
    _prompt, golden = load_task(config, "trec")
    first = golden.cases[0]
    fake = FakeModel().on("Rubric", '{"reasoning": "fine", "score": 1, "pass": true}')
    fake.on(first.inputs["question"], str(first.expected))
    fake.default = "garbage"
    report = run_eval(config, "trec", client=fake, limit=3)
    assert len(fake.calls("judge")) == 1  # only the case that passed its hard checks was judged
    assert report.results[0].passed and report.summary.metrics["judge_score"] == 1.0
    assert fake.calls("judge")[0].model == "local/smollm2"


def test_closed_set_prompt_sends_a_json_schema_enum_and_reads_the_answer_back(repo):
    import json as _json

    from promptloop.repo.config import load_config
    from promptloop.testing import FakeServer
    from tests.conftest import point_at

    text = (repo / "prompts" / "trec.yaml").read_text()
    (repo / "prompts" / "trec.yaml").write_text(
        text.replace("assertions:", "output:\n  choices: label\nassertions:", 1))
    with FakeServer(answer=lambda body: _json.dumps({"answer": "NUM"})) as server:
        point_at(repo, server.api_base)
        report = run_eval(load_config(repo), "trec", limit=3)
    fmt = server.requests[0]["response_format"]
    enum = fmt["json_schema"]["schema"]["properties"]["answer"]["enum"]
    assert fmt["type"] == "json_schema" and enum == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert {r.output for r in report.results} == {"NUM"}  # the chosen label, not the JSON around it


def test_choices_label_without_a_label_assertion_is_an_input_error(repo):
    import pytest

    from promptloop.errors import ConfigError
    from promptloop.repo.config import load_config

    text = (repo / "prompts" / "gsm8k.yaml").read_text()
    (repo / "prompts" / "gsm8k.yaml").write_text(
        text.replace("assertions:", "output:\n  choices: label\nassertions:", 1))
    with pytest.raises(ConfigError, match="no label assertion"):
        load_task(load_config(repo), "gsm8k")


def test_a_prompts_own_demonstrations_are_left_out_of_its_score(repo):
    from promptloop.repo.config import load_config
    from promptloop.repo.prompts import load_golden, load_prompt
    from promptloop.repo.rewrite import replace_messages

    config = load_config(repo)
    prompt = load_prompt(config, "trec")
    first = load_golden(repo / "golden" / "trec.yaml").cases[0]
    demo = [{"role": "user", "content": prompt.render(first.inputs)[-1]["content"], "example": first.id},
            {"role": "assistant", "content": str(first.expected), "example": first.id}]
    messages = [*prompt.messages[:-1], *demo, prompt.messages[-1]]
    path = repo / "prompts" / "trec.yaml"
    path.write_text(replace_messages(path.read_text(), messages))
    fake = FakeModel(default="NUM")
    report = run_eval(config, "trec", client=fake)
    assert report.excluded == [first.id]
    assert first.id not in {r.case_id for r in report.results}
    assert len(fake.calls("task")) == len(load_golden(repo / "golden" / "trec.yaml").cases) - 1


def test_case_selection_like_pytest(cli, repo):
    from promptloop.cli import app
    from promptloop.testing import FakeServer
    from tests.conftest import point_at

    golden = ("cases:\n  - {id: alpha-1, inputs: {question: 'How far?'}, expected: NUM, tags: [critical]}\n"
              "  - {id: alpha-2, inputs: {question: 'Who?'}, expected: HUM}\n"
              "  - {id: beta-1, inputs: {question: 'Where is Rome?'}, expected: LOC, tags: [edge]}\n"
              "  - {id: beta-2, inputs: {question: 'Why?'}, expected: DESC, tags: [edge, critical]}\n")
    (repo / "golden" / "trec.yaml").write_text(golden)
    import json as _json

    def ids(*args):
        with FakeServer(answer=lambda body: "NUM") as server:
            point_at(repo, server.api_base)
            r = cli.invoke(app, ["-C", str(repo), "eval", "trec", "--json", *args])
        return r.exit_code, sorted(x["id"] for x in _json.loads(r.stdout)["results"]) if r.stdout else []

    assert ids("-k", "alpha")[1] == ["alpha-1", "alpha-2"]
    assert ids("-k", "rome")[1] == ["beta-1"]  # inputs are searched too
    assert ids("--tag", "critical")[1] == ["alpha-1", "beta-2"]
    assert ids("--tag", "edge", "--exclude-tag", "critical")[1] == ["beta-1"]
    first, again = ids("--sample", "2", "--seed", "3"), ids("--sample", "2", "--seed", "3")
    assert len(first[1]) == 2 and first == again
    with FakeServer(answer=lambda body: "NUM") as server:
        point_at(repo, server.api_base)
        r = cli.invoke(app, ["-C", str(repo), "eval", "trec", "-k", "gamma"])
    assert r.exit_code == 2 and "-k gamma selects none" in r.output


def test_eval_history_keeps_runs_and_shows_flips(cli, repo):
    import subprocess

    from promptloop.cli import app
    from promptloop.testing import FakeServer
    from tests.conftest import point_at

    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    answers = {"first": "NUM"}

    def answer(body):
        return answers["first"] if "How far" in body["messages"][-1]["content"] else "LOC"

    (repo / "golden" / "trec.yaml").write_text(
        "cases:\n  - {id: far, inputs: {question: 'How far is it?'}, expected: NUM}\n"
        "  - {id: where, inputs: {question: 'Where is it?'}, expected: LOC}\n")
    with FakeServer(answer=answer) as server:
        point_at(repo, server.api_base)
        first = cli.invoke(app, ["-C", str(repo), "eval", "trec", "--no-cache"])
        answers["first"] = "HUM"  # the next run breaks one case
        second = cli.invoke(app, ["-C", str(repo), "eval", "trec", "--no-cache", "--compare", "last"])
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    assert "0 fixed, 1 broke" in second.output and "far (passed -> failed)" in second.output
    listing = cli.invoke(app, ["-C", str(repo), "history", "trec"])
    lines = [ln for ln in listing.output.splitlines() if "trec" in ln]
    assert len(lines) == 2 and "pass rate 0.500" in lines[0] and "pass rate 1.000" in lines[1]
    run_id = lines[0].split()[0]
    shown = cli.invoke(app, ["-C", str(repo), "history", "show", run_id])
    assert "far: failed" in shown.output and "where: passed" in shown.output
    bad = cli.invoke(app, ["-C", str(repo), "eval", "gsm8k", "--compare", "last", "--limit", "1"])
    assert bad.exit_code == 2 and "no earlier run" in bad.output
    with FakeServer(answer=answer) as server:
        point_at(repo, server.api_base)
        rerun = cli.invoke(app, ["-C", str(repo), "eval", "trec", "--failed", "--json", "--no-cache"])
    import json as _json

    assert [x["id"] for x in _json.loads(rerun.stdout)["results"]] == ["far"]  # only what failed last time
    with FakeServer(answer=answer) as server:  # a run of another selection does not forget that `far` fails
        point_at(repo, server.api_base)
        assert cli.invoke(app, ["-C", str(repo), "eval", "trec", "-k", "where", "--no-cache"]).exit_code == 0
        again = cli.invoke(app, ["-C", str(repo), "eval", "trec", "--failed", "--json", "--no-cache"])
    assert [x["id"] for x in _json.loads(again.stdout)["results"]] == ["far"]
    assert listing.output.splitlines()[0].split() == ["run", "when", "prompt", "revision", "model", "pass", "rate"]


def test_repeat_shows_each_failing_case_once_with_how_many_samples_passed(cli, repo):
    from promptloop.cli import app
    from promptloop.testing import FakeServer
    from tests.conftest import point_at

    seen: dict[str, int] = {}

    def answer(body: dict) -> str:  # the first question passes every other sample, the second never
        q = body["messages"][-1]["content"]
        seen[q] = seen.get(q, 0) + 1
        return "NUM" if "How far" in q and seen[q] % 2 else "LOC"

    (repo / "golden" / "trec.yaml").write_text(
        "cases:\n  - {id: far, inputs: {question: 'How far is it?'}, expected: NUM}\n"
        "  - {id: when, inputs: {question: 'When is it?'}, expected: NUM}\n")
    with FakeServer(answer=answer) as server:
        point_at(repo, server.api_base)
        r = cli.invoke(app, ["-C", str(repo), "eval", "trec", "--repeat", "4", "--no-cache"])
    rows = {ln.split("│")[1].strip(): ln.split("│")[2].strip() for ln in r.output.splitlines()
            if ln.startswith("│") and ln.split("│")[1].strip() in ("far", "when")}
    assert rows == {"far": "2/4", "when": "0/4"}, r.output


def test_a_run_hides_what_outlives_it_from_the_collector_and_gives_it_back(config):
    """Full collections skip what was alive when the run began, only while it runs: afterwards (and after
    a failed run) nothing stays frozen, so the user's process collects as before."""
    import gc

    frozen_during: list[int] = []
    thresholds = gc.get_threshold()

    def answer(request):
        frozen_during.append(gc.get_freeze_count())
        return "ok"

    report = run_eval(config, "trec", client=FakeModel(responder=answer))
    assert report.summary.samples == 38
    assert min(frozen_during) > 0
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds  # and the collector's thresholds are as they were
