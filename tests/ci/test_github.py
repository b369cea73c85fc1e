"""GitHub Actions: annotations at the regressed case's line, and one PR comment created then updated,
against a fake GitHub API on 127.0.0.1 and a fake Actions environment."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from promptloop.ci.github import MARKER, post_comment
from promptloop.cli import app
from tests.classifier import served, with_system


class FakeGitHub:
    def __init__(self) -> None:
        self.comments: list[dict] = []
        self.calls: list[tuple[str, str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self, data, status=200):
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                outer.calls.append(("GET", self.path, self.headers.get("Authorization", "")))
                self._reply(outer.comments)

            def do_POST(self):
                data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.calls.append(("POST", self.path, self.headers.get("Authorization", "")))
                outer.comments.append({"id": len(outer.comments) + 1, "body": data["body"]})
                self._reply(outer.comments[-1], 201)

            def do_PATCH(self):
                data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.calls.append(("PATCH", self.path, self.headers.get("Authorization", "")))
                cid = int(self.path.rsplit("/", 1)[1])
                next(c for c in outer.comments if c["id"] == cid)["body"] = data["body"]
                self._reply({"id": cid})

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def actions_env(tmp_path, api: str, token: str | None = "ghs_faketoken") -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    env = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/prompts", "GITHUB_EVENT_PATH": str(event),
           "GITHUB_API_URL": api}
    if token:
        env["GITHUB_TOKEN"] = token
    return env


def test_one_comment_created_then_updated(tmp_path):
    gh = FakeGitHub()
    try:
        env = actions_env(tmp_path, gh.url)
        assert post_comment(MARKER + "\nfirst", env) == "commented on #7"
        assert post_comment(MARKER + "\nsecond", env) == "updated the PR comment on #7"
        assert len(gh.comments) == 1 and gh.comments[0]["body"].endswith("second")
        assert [c[0] for c in gh.calls] == ["GET", "POST", "GET", "PATCH"]
        assert all(c[2] == "Bearer ghs_faketoken" for c in gh.calls)
        assert "no GITHUB_TOKEN" in post_comment("x", actions_env(tmp_path, gh.url, token=None))
        assert len(gh.calls) == 4  # nothing was sent without a token
    finally:
        gh.close()


def regress_in_actions(rrepo, cli, tmp_path, monkeypatch, *flags):
    """A regressing change, gated by `regress --github` in a fake Actions environment and GitHub API."""
    (rrepo / "prompts" / "cls.yaml").write_text(with_system("Classify the item. MAGIC BREAK"))
    gh = FakeGitHub()
    try:
        for k, v in actions_env(tmp_path, gh.url).items():
            monkeypatch.setenv(k, v)
        with served(rrepo):
            return cli.invoke(app, ["-C", str(rrepo), "regress", "--base", "base", "--github", *flags]), gh
    finally:
        gh.close()


def test_regress_github_annotates_the_golden_line_and_comments(rrepo, cli, tmp_path, monkeypatch):
    r, gh = regress_in_actions(rrepo, cli, tmp_path, monkeypatch)
    assert r.exit_code == 1
    golden_lines = (rrepo / "golden" / "cls.yaml").read_text().splitlines()
    line = next(i for i, ln in enumerate(golden_lines, 1) if "id: c1" in ln)
    assert f"::error file=golden/cls.yaml,line={line},title=promptloop regress::cls: case c1 regressed (critical)" \
        in r.output
    assert len(gh.comments) == 1 and gh.comments[0]["body"].startswith(MARKER)
    assert "❌" in gh.comments[0]["body"] and "c1" in gh.comments[0]["body"]


def test_github_annotations_leave_stdout_to_json(rrepo, cli, tmp_path, monkeypatch):
    r, _ = regress_in_actions(rrepo, cli, tmp_path, monkeypatch, "--json")
    assert r.exit_code == 1
    assert json.loads(r.stdout)["prompts"][0]["regressed"] == ["c1"]  # nothing else on stdout
    assert "::error file=golden/cls.yaml" in r.stderr  # the runner reads workflow commands on stderr too


def expression(expr: str, inputs: dict[str, str], github: dict[str, str]) -> str:
    """The few ${{ }} expressions action.yml uses, evaluated as the runner would."""
    expr = expr.strip()
    if expr == "inputs.comment == 'true' && inputs.github-token || ''":
        return inputs["github-token"] if inputs["comment"] == "true" else ""
    scope, _, name = expr.partition(".")
    return {"inputs": inputs, "github": github}[scope][name]


def test_the_actions_shell_steps_run_in_a_fake_actions_environment(rrepo, tmp_path, monkeypatch):
    """action.yml's own bash, run as the runner would: inputs defaulted, ${{ }} substituted, GITHUB_* set."""
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    from tests.gitrepo import git

    here = Path(__file__).resolve().parents[2]
    action = yaml.safe_load((here / "action.yml").read_text())
    gh = FakeGitHub()
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    (rrepo / "prompts" / "cls.yaml").write_text(with_system("Classify the item. MAGIC BREAK"))
    summary, runner_temp = tmp_path / "summary.md", tmp_path / "runner-temp"
    runner_temp.mkdir()
    try:
        with served(rrepo):
            git(rrepo, "remote", "add", "origin", str(origin))
            git(rrepo, "push", "-q", "origin", "base")
            git(rrepo, "fetch", "-q", "origin")
            inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
            inputs |= {"github-token": "ghs_faketoken"}  # extras: the default, auto
            github = {"action_path": str(here), "base_ref": "base", "sha": "f" * 40}
            bin_dir = Path(sys.executable).parent
            env = {**os.environ, **actions_env(tmp_path, gh.url, token=None), "GITHUB_STEP_SUMMARY": str(summary),
                   "RUNNER_TEMP": str(runner_temp), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
            results = {}
            for step in action["runs"]["steps"]:
                if "run" not in step:
                    continue  # `uses:` steps (setup-python, cache) belong to the runner
                script = re.sub(r"\$\{\{(.*?)\}\}", lambda m: expression(m.group(1), inputs, github), step["run"])
                step_env = {**env, **{k: re.sub(r"\$\{\{(.*?)\}\}", lambda m: expression(m.group(1), inputs, github),
                                             str(v)) for k, v in step.get("env", {}).items()}}
                if "pip install" in script:  # record what would be installed instead of installing it here
                    script = 'python() { echo "$@" > "$RUNNER_TEMP/pip-args"; }\n' + script
                results[step["name"]] = subprocess.run(["bash", "-e", "-c", script], cwd=rrepo, env=step_env,
                                                       capture_output=True, text=True, timeout=300)
    finally:
        gh.close()
    install, validate, regress_step = results.values()
    assert install.returncode == 0
    # this repo's models are fake/...: no embedded model to install (a repo made by init names local/smollm2)
    assert (runner_temp / "pip-args").read_text().split() == ["-m", "pip", "install", "--quiet", f"{here}"]
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert regress_step.returncode == 1, regress_step.stdout + regress_step.stderr  # the regression fails the job
    assert "::error file=golden/cls.yaml" in regress_step.stdout and "c1 regressed (critical)" in regress_step.stdout
    assert "c1" in summary.read_text() and (runner_temp / "promptloop-regress.xml").is_file()
    assert len(gh.comments) == 1 and gh.comments[0]["body"].startswith(MARKER)
    assert gh.calls[-1][2] == "Bearer ghs_faketoken"  # the token comes from the action's input, via its env


def test_the_action_runs_validate_and_regress_with_the_github_flag():
    from pathlib import Path

    import yaml

    action = yaml.safe_load((Path(__file__).resolve().parents[2] / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    scripts = "\n".join(s.get("run", "") for s in action["runs"]["steps"])
    assert "github.action_path" in scripts  # installs from its own ref: works unpublished
    assert "promptloop validate" in scripts and "promptloop regress" in scripts and "--github" in scripts
    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    assert {"validate", "regress"} <= names


def test_the_action_installs_the_embedded_model_for_a_repo_made_by_init(cli, tmp_path):
    """extras: auto reads the repo's config: init's local/smollm2 needs promptloop[local] (and says the build
    is the long step), so regress runs on the embedded model in the action's default install."""
    import os
    import re
    import subprocess
    from pathlib import Path

    import yaml

    here = Path(__file__).resolve().parents[2]
    action = yaml.safe_load((here / "action.yml").read_text())
    install = next(s for s in action["runs"]["steps"] if s.get("name", "").startswith("Install promptloop"))
    inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    script = re.sub(r"\$\{\{(.*?)\}\}", lambda m: expression(m.group(1), inputs, {"action_path": str(here)}),
                    install["run"])
    script = 'python() { echo "$@" > "$RUNNER_TEMP/pip-args"; }\n' + script
    repo = tmp_path / "made-by-init"
    assert cli.invoke(app, ["init", str(repo)]).exit_code == 0
    r = subprocess.run(["bash", "-e", "-c", script], cwd=repo, capture_output=True, text=True,
                       env={**os.environ, "RUNNER_TEMP": str(tmp_path)})
    assert r.returncode == 0 and "builds llama.cpp" in r.stdout
    assert (tmp_path / "pip-args").read_text().split()[-1] == f"{here}[local]"
