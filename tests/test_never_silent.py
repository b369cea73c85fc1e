"""Never a silent pass (issue 10): each way the tool could say "all is well" when it is not."""

from __future__ import annotations

import json
import re
import socket
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from promptloop.cli import app
from promptloop.repo.config import load_config
from promptloop.testing import FakeServer
from tests.gitrepo import commit_files, git, init_repo


def dead_endpoint() -> str:
    """An address on this machine where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def scaffolded(cli, tmp_path: Path, default: str) -> Path:
    root = tmp_path / "proj"
    r = cli.invoke(app, ["init", str(root)])
    assert r.exit_code == 0, r.output
    cfg = (root / "promptloop.yaml").read_text()
    cfg, n = re.subn(r"(?m)^  default: .*$", f"  default: {default}", cfg)  # the README's one-line switch
    assert n == 1
    cfg = re.sub(r"(?m)^retries: .*$", "retries: 0", cfg)
    (root / "promptloop.yaml").write_text(cfg)
    return root


# 1. model errors are a third outcome, never a pass ---------------------------------------------------------
def test_eval_against_a_dead_endpoint_exits_3_naming_it(cli, tmp_path):
    base = dead_endpoint()
    root = scaffolded(cli, tmp_path, f"{{name: openai/x, api_base: '{base}'}}")
    assert "pass_rate: 0.8" in (root / "promptloop.yaml").read_text()  # the scaffold's threshold
    junit = tmp_path / "r.junit.xml"
    r = cli.invoke(app, ["-C", str(root), "eval", "sentiment", "-o", str(junit)])
    assert r.exit_code == 3, r.output
    assert "thresholds met" not in r.output
    assert base.removesuffix("/v1") in r.output.replace("\n", "")
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("errors") == suite.get("tests") and suite.get("failures") == "0"
    r = cli.invoke(app, ["-C", str(root), "eval", "sentiment", "--json"])
    data = json.loads(r.stdout)
    assert r.exit_code == 3 and data["ok"] is False and data["errors"] == data["samples"] and data["scored"] == 0
    assert {x["status"] for x in data["results"]} == {"error"}


@pytest.mark.parametrize("threshold", ["0.8", "0.0"])
def test_a_failing_critical_case_fails_eval_whatever_the_thresholds(cli, tmp_path, threshold):
    """The scaffold's `broke` review is critical: a model that calls everything positive passes 3 of 5 cases,
    and eval fails (exit 1) naming the critical case, even with the threshold at 0."""
    with FakeServer(answer=lambda b: "positive") as server:
        root = scaffolded(cli, tmp_path, f"{{name: openai/x, api_base: '{server.api_base}'}}")
        cfg = (root / "promptloop.yaml").read_text()
        (root / "promptloop.yaml").write_text(re.sub(r"(?m)^  pass_rate: .*$", f"  pass_rate: {threshold}", cfg))
        r = cli.invoke(app, ["-C", str(root), "eval", "sentiment", "--json"])
        data = json.loads(r.stdout)
        assert r.exit_code == 1 and data["ok"] is False and data["critical_failed"] == ["broke"]
        assert "critical case(s) failed: broke" in data["verdict"]
        r = cli.invoke(app, ["-C", str(root), "eval", "sentiment", "-k", "love"])  # only a passing critical case
        assert r.exit_code == 0, r.output


def test_some_errors_are_counted_apart_and_thresholds_judge_scored_cases(cli, repo):
    def answer(body: dict) -> str:
        return "LOC" if "question b" in body["messages"][-1]["content"] else "NUM"
    golden = ("cases:\n  - {id: a, inputs: {question: 'question a'}, expected: NUM}\n"
              "  - {id: b, inputs: {question: 'question b'}, expected: NUM}\n"
              "  - {id: c, inputs: {question: 'FAULT:500 question c'}, expected: NUM}\n")
    (repo / "golden" / "trec.yaml").write_text(golden)
    with FakeServer(answer=answer, fault_times=99) as server:
        cfg = (repo / "promptloop.yaml").read_text()
        cfg = re.sub(r"(?m)^  default: .*$", f"  default: {{name: openai/x, api_base: '{server.api_base}'}}", cfg)
        cfg = re.sub(r"(?m)^retries: .*$", "retries: 0", cfg) + "thresholds: {pass_rate: 0.4}\n"
        (repo / "promptloop.yaml").write_text(cfg)
        r = cli.invoke(app, ["-C", str(repo), "eval", "trec", "--json"])
        data = json.loads(r.stdout)
        # 1 passed, 1 failed, 1 error: the pass rate is over the two scored cases, and the error is named
        assert (data["passed"], data["failed"], data["errors"]) == (1, 1, 1)
        assert data["metrics"]["pass_rate"] == 0.5
        assert r.exit_code == 3 and "500" in data["verdict"]
        (repo / "promptloop.yaml").write_text(cfg.replace("pass_rate: 0.4", "pass_rate: 0.9"))
        r = cli.invoke(app, ["-C", str(repo), "eval", "trec"])
        assert r.exit_code == 1 and "pass_rate 0.500 < 0.9" in r.output  # a real miss outranks the error


# 2. OPENAI_BASE_URL / OPENAI_API_BASE are honoured ------------------------------------------------------------
@pytest.mark.parametrize("variable", ["OPENAI_BASE_URL", "OPENAI_API_BASE"])
@pytest.mark.parametrize("fast", [True, False])
def test_the_environment_endpoint_receives_every_request(cli, repo, monkeypatch, variable, fast):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    if not fast:
        monkeypatch.setenv("PROMPTLOOP_NO_FAST_PATH", "1")
    cfg = (repo / "promptloop.yaml").read_text()
    (repo / "promptloop.yaml").write_text(re.sub(r"(?m)^  default: .*$", "  default: openai/gpt-4o-mini", cfg))
    with FakeServer(answer=lambda b: "NUM") as server:
        monkeypatch.setenv(variable, server.api_base)
        r = cli.invoke(app, ["-C", str(repo), "eval", "trec", "--limit", "3", "--no-cache"])
        assert r.exit_code in (0, 1), r.output
        assert len(server.requests) == 3
        r = cli.invoke(app, ["-C", str(repo), "models"])
        assert server.api_base in r.output.replace("\n", "").replace(" ", "") or server.api_base in r.output


def test_config_api_base_wins_over_the_environment(repo, monkeypatch):
    from promptloop.model.transports import resolve

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert resolve("openai/x", "http://127.0.0.1:8/v1").api_base == "http://127.0.0.1:8/v1"
    assert resolve("openai/x", None).api_base == "http://127.0.0.1:9/v1"
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.setenv("OPENAI_API_BASE", "http://127.0.0.1:7/v1")
    assert resolve("openai/x", None).api_base == "http://127.0.0.1:7/v1"


# 3. nothing to score is an input error ------------------------------------------------------------------------
def test_an_empty_golden_set_is_exit_2_naming_the_file(cli, repo):
    (repo / "golden" / "trec.yaml").write_text("cases: []\n")
    r = cli.invoke(app, ["-C", str(repo), "eval", "trec"])
    assert r.exit_code == 2 and "trec.yaml" in r.output and "no cases" in r.output
    r = cli.invoke(app, ["-C", str(repo), "validate"])
    assert r.exit_code == 2 and "trec.yaml" in r.output and "no cases" in r.output
    (repo / "golden" / "trec.yaml").write_text("")
    r = cli.invoke(app, ["-C", str(repo), "eval", "trec"])
    assert r.exit_code == 2 and "no cases" in r.output


def test_a_missing_golden_set_is_exit_2(cli, repo):
    (repo / "golden" / "trec.yaml").unlink()
    r = cli.invoke(app, ["-C", str(repo), "eval", "trec"])
    assert r.exit_code == 2 and "golden/trec.yaml" in r.output


# 4. regress sees every input of a score -----------------------------------------------------------------------
PROMPT = """\
model: {temperature: 0}
inputs: [q]
messages:
  - role: system
    content: Answer A.
  - role: user
    content: "Item: {{q}}"
assertions:
  - type: label
    value: [A, B]
  - type: python
    value: checks:always
"""
GOLDEN = "cases:\n  - {id: c1, inputs: {q: one}, expected: A}\n  - {id: c2, inputs: {q: two}, expected: A}\n"
CHECKS = "def always(output, case):\n    return True\n"


@pytest.fixture
def grepo(tmp_path):
    with FakeServer(answer=lambda b: "A") as server:
        root = tmp_path / "g"
        cfg = f"models:\n  default: {{name: openai/x, api_base: '{server.api_base}'}}\nretries: 0\n"
        init_repo(root, {"promptloop.yaml": cfg, "prompts/p.yaml": PROMPT, "golden/p.yaml": GOLDEN,
                         "checks.py": CHECKS, ".gitignore": ".promptloop/\n"})
        git(root, "branch", "base")
        yield root, server


def test_regress_sees_a_model_change_in_promptloop_yaml(cli, grepo):
    root, server = grepo
    r = cli.invoke(app, ["-C", str(root), "regress", "--base", "base", "p"])
    assert r.exit_code == 0 and "0 changed prompt(s)" in r.output
    cfg = (root / "promptloop.yaml").read_text().replace(server.api_base, dead_endpoint())
    commit_files(root, {"promptloop.yaml": cfg}, "move the task model")
    r = cli.invoke(app, ["-C", str(root), "regress", "--base", "base", "--json"])
    data = json.loads(r.stdout)
    assert r.exit_code == 3, r.output
    assert data["ok"] is False and data["prompts"][0]["ok"] is False  # as the exit code says (and eval --json)
    assert [p["name"] for p in data["prompts"]] == ["p"] and data["prompts"][0]["status"] == "inputs-changed"
    assert any("promptloop.yaml: models" in n for n in data["prompts"][0]["notes"])
    assert data["prompts"][0]["regressed"] == [] and len(data["prompts"][0]["errors"]) == 2
    junit = root.parent / "r.xml"
    cli.invoke(app, ["-C", str(root), "regress", "--base", "base", "--junit", str(junit)])
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    assert cases and all(tc.find("error") is not None and tc.find("failure") is None for tc in cases)


def test_regress_sees_a_changed_python_check_module_and_thresholds(cli, grepo):
    root, _ = grepo
    commit_files(root, {"checks.py": CHECKS.replace("True", "output == 'A'")}, "stricter check")
    r = cli.invoke(app, ["-C", str(root), "regress", "--base", "base", "--json"])
    data = json.loads(r.stdout)
    assert r.exit_code == 0 and [p["name"] for p in data["prompts"]] == ["p"]
    assert any("checks.py" in n for n in data["prompts"][0]["notes"])
    git(root, "branch", "-f", "base")
    cfg = (root / "promptloop.yaml").read_text() + "thresholds: {pass_rate: 0.9}\n"
    (root / "promptloop.yaml").write_text(cfg)  # uncommitted changes count too
    data = json.loads(cli.invoke(app, ["-C", str(root), "regress", "--base", "base", "--json"]).stdout)
    assert any("thresholds" in n for n in data["prompts"][0]["notes"])


# 6. models: ready means reachable ------------------------------------------------------------------------------
def test_models_says_no_for_an_endpoint_where_nothing_listens(cli, tmp_path):
    base = dead_endpoint()
    root = scaffolded(cli, tmp_path, f"{{name: openai/x, api_base: '{base}'}}")
    r = cli.invoke(app, ["-C", str(root), "models"])
    assert r.exit_code == 2 and "nothing answers" in r.output.replace("\n", " ")
    with FakeServer(answer=lambda b: "OK") as server:
        cfg = (root / "promptloop.yaml").read_text().replace(base, server.api_base)
        (root / "promptloop.yaml").write_text(cfg)
        r = cli.invoke(app, ["-C", str(root), "models"])
        assert r.exit_code == 0 and server.requests == []  # a TCP probe, not a paid call
        r = cli.invoke(app, ["-C", str(root), "models", "--check"])
        assert r.exit_code == 0 and len(server.requests) == 1 and server.requests[0]["max_tokens"] == 1


# 7. one switch to a hosted model ------------------------------------------------------------------------------
def test_one_line_switches_every_role(cli, tmp_path):
    with FakeServer(answer=lambda b: "positive") as server:
        root = scaffolded(cli, tmp_path, f"{{name: openai/x, api_base: '{server.api_base}'}}")
        config = load_config(root)
        assert {config.model(role).api_base for role in ("task", "proposer", "judge")} == {server.api_base}
        r = cli.invoke(app, ["-C", str(root), "models"])
        assert r.exit_code == 0 and "local/smollm2" not in r.output
        r = cli.invoke(app, ["-C", str(root), "optimize", "sentiment", "--no-commit", "--budget-calls", "40",
                             "--rounds", "1"])
        assert "weights" not in r.output and r.exit_code in (0, 1), r.output
        proposer = [b for b in server.requests if "response_format" in b and "candidates" in json.dumps(b)]
        assert proposer, "the proposer's call went to the switched model"


# 8. Ctrl-C loses no paid call ---------------------------------------------------------------------------------
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])  # Ctrl-C, and a CI runner cancelling the job
def test_ctrl_c_waits_for_calls_in_flight_and_caches_them(repo, signame):
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    golden = "cases:\n" + "".join(f"  - {{id: q{i}, inputs: {{question: 'question {i}'}}, expected: NUM}}\n"
                                  for i in range(20))
    (repo / "golden" / "trec.yaml").write_text(golden)
    with FakeServer(answer=lambda b: "NUM", latency=1.5) as server:
        cfg = (repo / "promptloop.yaml").read_text()
        cfg = re.sub(r"(?m)^  default: .*$", f"  default: {{name: openai/x, api_base: '{server.api_base}'}}", cfg)
        cfg = re.sub(r"(?m)^concurrency: .*$", "concurrency: 8", cfg)
        (repo / "promptloop.yaml").write_text(cfg)
        proc = subprocess.Popen([sys.executable, "-m", "promptloop", "-C", str(repo), "eval", "trec"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "COLUMNS": "200"})
        deadline = time.monotonic() + 60
        while len(server.requests) < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(server.requests) == 8  # concurrency 8: eight paid calls in flight
        proc.send_signal(getattr(signal, signame))
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, out + err
        assert "waiting up to" in err and "Traceback" not in err
        assert len(server.requests) == 8  # nothing new was sent after the interrupt
        with sqlite3.connect(repo / ".promptloop" / "cache.sqlite") as db:
            cached = db.execute("select count(*) from sqlite_master").fetchone()
            tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
            rows = sum(db.execute(f"select count(*) from {t}").fetchone()[0] for t in tables)
        assert cached and rows == 8  # all eight answers, paid for, are in the cache
        r = subprocess.run([sys.executable, "-m", "promptloop", "-C", str(repo), "eval", "trec"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode in (0, 1) and len(server.requests) == 20  # the rerun makes only the 12 missing calls
