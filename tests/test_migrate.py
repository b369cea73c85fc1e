"""promptloop migrate (issue 27): a model switch judged before the old model is retired — per-case flips, the
gate's rule on the difference, cost and latency side by side."""

from __future__ import annotations

import json

import pytest

from promptloop.cli import app
from promptloop.testing import FakeServer
from tests.ab import PROMPT, ab_cases, golden_yaml

CASES = ab_cases(16)
BROKEN = {"c3", "c6", "c9", "c12", "c15"}  # what the new model gets wrong


def golden() -> str:
    return golden_yaml(CASES)


def answer(body: dict) -> str:
    cid = body["messages"][-1]["content"].split()[-1]
    right = CASES[cid]
    if body["model"] == "gpt-4.1-mini" and cid in BROKEN:
        return "B" if right == "A" else "A"
    return right


@pytest.fixture
def mrepo(tmp_path):
    with FakeServer(answer=answer) as server:
        root = tmp_path / "m"
        (root / "prompts").mkdir(parents=True)
        (root / "golden").mkdir()
        (root / "promptloop.yaml").write_text(
            f"models:\n  default: {{name: openai/gpt-4o-mini, api_base: '{server.api_base}'}}\nretries: 0\n")
        (root / "prompts" / "cls.yaml").write_text(PROMPT)
        (root / "golden" / "cls.yaml").write_text(golden())
        yield root, server


def test_a_model_that_breaks_cases_is_worse_and_names_exactly_them(cli, mrepo, tmp_path):
    root, server = mrepo
    r = cli.invoke(app, ["-C", str(root), "migrate", "cls", "--to", f"openai/gpt-4.1-mini@{server.api_base}",
                         "--json", "-o", str(tmp_path / "m.md"), "-o", str(tmp_path / "m.junit.xml")],
                   env={"OPENAI_API_KEY": "sk-test"})
    assert r.exit_code == 1, r.output
    [p] = json.loads(r.stdout)["prompts"]
    assert p["verdict"] == "worse" and set(p["broken"]) == BROKEN and p["fixed"] == []
    assert p["current"]["pass_rate"] == 1.0 and p["target"]["pass_rate"] == 1 - len(BROKEN) / len(CASES)
    for side in ("current", "target"):  # both models priced from the price map, both timed
        assert p[side]["cost_per_1000_calls_usd"] > 0 and p[side]["latency_p50_s"] is not None
    assert p["current"]["model"].startswith("openai/gpt-4o-mini") and p["target"]["model"].startswith(
        "openai/gpt-4.1-mini")
    markdown = (tmp_path / "m.md").read_text()
    assert "worse" in markdown and all(c in markdown for c in BROKEN)
    assert (tmp_path / "m.junit.xml").read_text().count("<failure") == len(BROKEN)
    calls = len(server.requests)
    r = cli.invoke(app, ["-C", str(root), "migrate", "cls", "--to", f"openai/gpt-4.1-mini@{server.api_base}"],
                   env={"OPENAI_API_KEY": "sk-test"})
    assert r.exit_code == 1 and "broken (5)" in r.output and len(server.requests) == calls  # all cached


def test_a_model_that_answers_alike_is_safe(cli, mrepo):
    root, server = mrepo
    r = cli.invoke(app, ["-C", str(root), "migrate", "--to", f"openai/gpt-4o@{server.api_base}", "--json"],
                   env={"OPENAI_API_KEY": "sk-test"})
    assert r.exit_code == 0, r.output
    [p] = json.loads(r.stdout)["prompts"]
    assert p["verdict"] == "safe" and p["broken"] == [] and p["target"]["pass_rate"] == 1.0


def test_migrate_needs_a_target_and_refuses_a_mistyped_one(cli, mrepo):
    root, server = mrepo
    assert cli.invoke(app, ["-C", str(root), "migrate", "cls"]).exit_code == 2
    r = cli.invoke(app, ["-C", str(root), "migrate", "cls", "--to", "openai/x@localhost:1/v1"])
    assert r.exit_code == 2 and "http://HOST:PORT/v1" in r.output and server.requests == []


# ---------------------------------------------------------------- retirement dates
@pytest.mark.parametrize("listed, past, warned", [
    ("2026-10-23", True, True),     # retired already
    ("2026-12-03", True, True),     # today
    ("2027-01-14", False, True),    # within 90 days
    ("2027-03-03", False, True),    # day 90
    ("2027-03-04", False, False),   # beyond
    (None, False, False), ("soon", False, False),
])
def test_the_retirement_rule(listed, past, warned):
    from datetime import date

    from promptloop.model.retirement import retirement

    r = retirement("openai/m", date(2026, 12, 3), listed)
    assert (r is not None) == warned and (r is None or (r.past == past and str(r.date) in r.message()))


@pytest.mark.parametrize("days, models_exit, level", [(-10, 2, "error"), (30, 0, "warning"), (200, 0, None)])
def test_models_and_validate_name_a_configured_model_near_retirement(cli, mrepo, monkeypatch, days, models_exit,
                                                                     level):
    from datetime import date, timedelta

    from promptloop.model import retirement

    when = (date.today() + timedelta(days=days)).isoformat()
    monkeypatch.setattr(retirement, "deprecation_date", lambda model: when if "gpt-4o-mini" in model else None)
    root, _ = mrepo
    r = cli.invoke(app, ["-C", str(root), "models"], env={"OPENAI_API_KEY": "sk-test"})
    assert r.exit_code == models_exit, r.output
    assert (f"{level}: openai/gpt-4o-mini" in r.output and when in r.output and "promptloop migrate" in r.output) \
        if level else "retired" not in r.output
    v = cli.invoke(app, ["-C", str(root), "validate"])
    assert v.exit_code == 0 and (("warning: openai/gpt-4o-mini" in v.output) == (level is not None)), v.output


# ---------------------------------------------------------------- --optimize
def picky(body: dict) -> object:
    """The new model breaks BROKEN unless the instructions say MAGIC; the proposer offers MAGIC."""
    if "response_format" in body and "candidates" in json.dumps(body["response_format"]):
        return json.dumps({"candidates": [{"rationale": "say it", "instructions": "Classify. MAGIC"}]})
    if body["model"] == "gpt-4.1-mini" and not any("MAGIC" in str(m.get("content")) for m in body["messages"]):
        return answer(body)
    cid = body["messages"][-1]["content"].split()[-1]
    return CASES[cid]


def test_migrate_optimize_commits_prompt_and_model_that_the_gate_then_passes(cli, tmp_path):
    from tests.gitrepo import git, init_repo

    with FakeServer(answer=picky) as server:
        root = tmp_path / "g"
        init_repo(root, {"promptloop.yaml": f"models:\n  default: {{name: openai/gpt-4o-mini, api_base: "
                                            f"'{server.api_base}'}}\nretries: 0\nbranch_prefix: pl\n",
                         "prompts/cls.yaml": PROMPT, "golden/cls.yaml": golden(), ".gitignore": ".promptloop/\n"})
        before = (root / "prompts" / "cls.yaml").read_text()
        target = f"openai/gpt-4.1-mini@{server.api_base}"
        r = cli.invoke(app, ["-C", str(root), "migrate", "cls", "--to", target, "--optimize", "--json"],
                       env={"OPENAI_API_KEY": "sk-test"})
        assert r.exit_code == 0, r.output  # worse as it was, repaired and committed
        [p] = json.loads(r.stdout)["prompts"]
        assert p["verdict"] == "worse" and p["optimised"]["committed"] and p["optimised"]["target"]["pass_rate"] == 1
        branch = p["optimised"]["branch"]
        assert (root / "prompts" / "cls.yaml").read_text() == before  # the checkout is untouched
        committed = git(root, "show", f"{branch}:prompts/cls.yaml")
        assert "MAGIC" in committed and "gpt-4.1-mini" in committed
        message = git(root, "log", "-1", "--format=%B", branch)
        assert "today's prompt" in message and "optimised prompt" in message
        # the run log keeps the model switch beside the winner: `runs apply` would commit both
        [run_log] = (root / ".promptloop" / "runs").glob("*.json")
        assert "gpt-4.1-mini" in json.loads(run_log.read_text())["winner_record"]["model"]["name"]
        git(root, "checkout", "-q", branch)
        gate = cli.invoke(app, ["-C", str(root), "regress", "--base", "main", "--json"],
                          env={"OPENAI_API_KEY": "sk-test"})
        assert gate.exit_code == 0, gate.output
        assert json.loads(gate.stdout)["prompts"][0]["regressed"] == []
