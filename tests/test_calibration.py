"""Judges measured before they are trusted (issue 28): calibration against human labels, kept in git, and an
uncalibrated judge that cannot turn the gate red."""

from __future__ import annotations

import json

import pytest

from promptloop.cli import app
from promptloop.testing import FakeServer
from tests.ab import JUDGED_PROMPT, ab_cases, golden_yaml

PROMPT = JUDGED_PROMPT
CASES = ab_cases(10)
GOLDEN = golden_yaml(CASES)
# The human said: good-* acceptable, bad-* not. The judge misses good-6 and lets bad-4 through.
LABELS = [{"case": f"c{i}", "output": f"good-{i}", "acceptable": True} for i in range(1, 7)] + \
         [{"case": f"c{i}", "output": f"bad-{i}", "acceptable": False} for i in range(1, 5)]


def answer(body: dict) -> object:
    text = body["messages"][-1]["content"]
    if "grading an AI assistant" not in text:
        return CASES[text.split()[-1]]
    output = text.split("<answer>\n", 1)[1].split("\n</answer>", 1)[0]
    if "strict" in text:  # a rubric under which this judge fails everything
        ok = False
    else:
        ok = output in ("A", "B") or (output.startswith("good") and output != "good-6") or output == "bad-4"
    return json.dumps({"reasoning": "looks fine" if ok else "not good", "score": 1 if ok else 0, "pass": ok})


@pytest.fixture
def jrepo(tmp_path):
    from tests.gitrepo import init_repo

    with FakeServer(answer=answer) as server:
        root = tmp_path / "j"
        init_repo(root, {"promptloop.yaml": f"models:\n  default: {{name: openai/x, api_base: '{server.api_base}'}}\n"
                                            "retries: 0\n", "prompts/cls.yaml": PROMPT.replace("RUBRIC", "lenient"),
                         "golden/cls.yaml": GOLDEN, ".gitignore": ".promptloop/\n"})
        yield root, server


def test_calibrate_measures_the_judge_exactly_and_a_rubric_change_makes_it_stale(cli, jrepo, tmp_path):
    root, _ = jrepo
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(x) + "\n" for x in LABELS))
    r = cli.invoke(app, ["-C", str(root), "labels", "import", "cls", str(labels)])
    assert r.exit_code == 0 and "10 label(s), 6 acceptable" in r.output, r.output
    r = cli.invoke(app, ["-C", str(root), "calibrate", "cls", "--json"], env={"OPENAI_API_KEY": "sk-test"})
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)
    assert (m["tp"], m["tn"], m["fp"], m["fn"], m["n"]) == (5, 3, 1, 1, 10)
    assert m["tpr"] == pytest.approx(5 / 6) and m["tnr"] == pytest.approx(3 / 4)
    assert m["kappa"] == pytest.approx((0.8 - 0.52) / 0.48)  # po 0.8, pe (6*6 + 4*4) / 100
    assert {d["case"] for d in m["disagreements"]} == {"c6", "c4"}
    kept = (root / "golden" / "labels" / "cls.yaml").read_text()
    assert "fingerprint" in kept and "good-1" in kept
    assert "stale" not in cli.invoke(app, ["-C", str(root), "validate"]).output
    prompt = root / "prompts" / "cls.yaml"
    prompt.write_text(prompt.read_text().replace("lenient", "lenient and kind"))
    v = cli.invoke(app, ["-C", str(root), "validate"])
    assert v.exit_code == 0 and "warning: cls" in v.output and "stale" in v.output, v.output


def test_an_uncalibrated_judge_that_fails_every_case_does_not_turn_regress_red(cli, jrepo):
    from tests.gitrepo import commit_files, git

    root, _ = jrepo
    git(root, "branch", "base")
    commit_files(root, {"prompts/cls.yaml": PROMPT.replace("RUBRIC", "strict")}, "a stricter rubric")
    r = cli.invoke(app, ["-C", str(root), "regress", "--base", "base", "--json"], env={"OPENAI_API_KEY": "sk-test"})
    assert r.exit_code == 0, r.output
    [p] = json.loads(r.stdout)["prompts"]
    assert p["regressed"] == [] and any("llm_judge is advisory" in n and "never calibrated" in n for n in p["notes"])
    cfg = (root / "promptloop.yaml").read_text() + "regress: {trust_uncalibrated_judge: true}\n"
    commit_files(root, {"promptloop.yaml": cfg}, "the old behaviour")
    r = cli.invoke(app, ["-C", str(root), "regress", "--base", "base", "--json"], env={"OPENAI_API_KEY": "sk-test"})
    assert r.exit_code == 1 and len(json.loads(r.stdout)["prompts"][0]["regressed"]) == len(CASES)


@pytest.mark.parametrize("record, current, why", [
    (None, "sha256:a", "never calibrated"),
    ({"fingerprint": "sha256:b", "kappa": 0.9}, "sha256:a", "stale"),
    ({"fingerprint": "sha256:a", "kappa": 0.2}, "sha256:a", "agrees too little"),
    ({"fingerprint": "sha256:a", "kappa": None}, "sha256:a", "agrees too little"),
    ({"fingerprint": "sha256:a", "kappa": 0.4}, "sha256:a", None),
])
def test_when_a_judge_may_gate(record, current, why):
    from promptloop.scoring.calibration import trust

    got = trust(record, current)
    assert (got is None) == (why is None) and (why is None or why in got), got


def test_agreement_figures_and_the_corrected_rate():
    from promptloop.scoring.calibration import agreement, corrected_rate, wilson

    a = agreement([(True, True)] * 40 + [(True, False)] * 10 + [(False, False)] * 45 + [(False, True)] * 5)
    assert (a.tpr, a.tnr) == (0.8, 0.9) and a.kappa == pytest.approx(0.7)
    low, high = a.kappa_interval()
    assert low < 0.7 < high and high - low < 0.3
    assert wilson(0, 0) == (0.0, 1.0) and wilson(5, 10)[0] < 0.5 < wilson(5, 10)[1]
    # what such a judge passes when 60% of outputs are truly acceptable; Rogan–Gladen gets the 60% back
    observed = 0.8 * 0.6 + (1 - 0.9) * 0.4
    assert corrected_rate(observed, 0.8, 0.9) == pytest.approx(0.6)
    assert corrected_rate(0.5, 0.5, 0.5) is None  # a judge no better than a coin says nothing


def test_eval_counts_an_advisory_judge_out_and_corrects_a_trusted_ones_rate(cli, jrepo, tmp_path):
    root, _ = jrepo
    prompt = root / "prompts" / "cls.yaml"
    prompt.write_text(PROMPT.replace("RUBRIC", "strict"))  # this judge fails every answer
    r = cli.invoke(app, ["-C", str(root), "eval", "cls", "--json"], env={"OPENAI_API_KEY": "sk-test"})
    data = json.loads(r.stdout)
    assert r.exit_code == 0 and data["passed"] == len(CASES) and data["judge"]["judge_pass_rate"] == 0.0
    assert "never calibrated" in data["judge"]["advisory"] and len(data["judge"]["judge_only_failures"]) == len(CASES)
    prompt.write_text(PROMPT.replace("RUBRIC", "lenient"))
    labels = tmp_path / "l.jsonl"
    labels.write_text("".join(json.dumps(x) + "\n" for x in LABELS))
    cli.invoke(app, ["-C", str(root), "labels", "import", "cls", str(labels)])
    assert cli.invoke(app, ["-C", str(root), "calibrate", "cls"], env={"OPENAI_API_KEY": "sk-test"}).exit_code == 0
    data = json.loads(cli.invoke(app, ["-C", str(root), "eval", "cls", "--json"],
                                 env={"OPENAI_API_KEY": "sk-test"}).stdout)
    j = data["judge"]
    assert j["advisory"] is None and j["judge_pass_rate"] == 1.0  # kappa 0.58: trusted
    assert j["corrected_pass_rate"] == pytest.approx(min(1.0, (1.0 + 0.75 - 1) / (5 / 6 + 0.75 - 1)))


def test_labels_are_given_one_at_a_time_in_the_terminal_and_saved_as_given(cli, jrepo):
    root, server = jrepo
    assert cli.invoke(app, ["-C", str(root), "eval", "cls"], env={"OPENAI_API_KEY": "sk-test"}).exit_code == 0
    calls = len(server.requests)
    r = cli.invoke(app, ["-C", str(root), "labels", "add", "cls", "--limit", "4", "--by", "ana"],
                   input="y\nn\ns\nq\n", env={"OPENAI_API_KEY": "sk-test"})
    assert r.exit_code == 0 and "2 label(s) added" in r.output, r.output
    assert len(server.requests) == calls  # the outputs came from the cache
    from promptloop.repo.config import load_config
    from promptloop.repo.labels import load_labels

    labels = load_labels(load_config(root), "cls").labels
    assert [(x.case, x.acceptable, x.by) for x in labels] == [("c0", True, "ana"), ("c1", False, "ana")]


def test_labelling_before_any_eval_pays_for_the_answers_only_never_the_judge(cli, jrepo):
    root, server = jrepo
    r = cli.invoke(app, ["-C", str(root), "labels", "add", "cls", "--limit", "3"], input="y\ny\ny\n",
                   env={"OPENAI_API_KEY": "sk-test"})
    assert r.exit_code == 0 and "3 label(s) added" in r.output, r.output
    assert len(server.requests) == 3  # one answer per case; a person is the judge here
    # the judge's verdicts are then what calibration asks for, once per label
    assert cli.invoke(app, ["-C", str(root), "calibrate", "cls"], env={"OPENAI_API_KEY": "sk-test"}).exit_code == 0
    assert len(server.requests) == 6


def test_regress_shows_a_trusted_judges_corrected_rate(cli, jrepo, tmp_path):
    from tests.gitrepo import commit_files, git

    root, _ = jrepo
    labels = tmp_path / "l.jsonl"
    labels.write_text("".join(json.dumps(x) + "\n" for x in LABELS))
    cli.invoke(app, ["-C", str(root), "labels", "import", "cls", str(labels)])
    assert cli.invoke(app, ["-C", str(root), "calibrate", "cls"], env={"OPENAI_API_KEY": "sk-test"}).exit_code == 0
    git(root, "add", "-A")
    git(root, "commit", "-qm", "labels and calibration")
    git(root, "branch", "base")
    commit_files(root, {"golden/cls.yaml": GOLDEN + "  - {id: extra, inputs: {q: c1}, expected: B}\n"}, "one more")
    r = cli.invoke(app, ["-C", str(root), "regress", "--base", "base", "--json"], env={"OPENAI_API_KEY": "sk-test"})
    notes = json.loads(r.stdout)["prompts"][0]["notes"]
    assert r.exit_code == 0 and any("corrected for its measured errors" in n for n in notes), r.output


def test_labels_in_git_hold_no_secret_or_address_and_a_bad_file_is_one_line(cli, jrepo, tmp_path):
    root, _ = jrepo
    f = tmp_path / "l.csv"
    secret = "sk-proj-abcdefghijklmnopqrstuv123456"
    f.write_text(f"case,output,acceptable\nc1,\"mail jane.doe@example.org, key {secret}\",yes\n")
    assert cli.invoke(app, ["-C", str(root), "labels", "import", "cls", str(f)]).exit_code == 0
    kept = (root / "golden" / "labels" / "cls.yaml").read_text()
    assert "jane.doe@example.org" not in kept and secret not in kept
    f.write_bytes(b"case,output,acceptable\nc1,caf\xe9,yes\n")
    r = cli.invoke(app, ["-C", str(root), "labels", "import", "cls", str(f)])
    assert r.exit_code == 2 and "UTF-8" in r.output and "Traceback" not in r.output
