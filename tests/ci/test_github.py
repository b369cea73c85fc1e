"""GitHub Actions: annotations at the regressed case's line, and one PR comment created then updated,
against a fake GitHub API on 127.0.0.1 and a fake Actions environment."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from promptloop.ci.github import MARKER, post_comment
from promptloop.cli import app
from tests.git.test_regress import rrepo, served, with_system  # noqa: F401  (fixture)


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


def test_regress_github_annotates_the_golden_line_and_comments(rrepo, cli, tmp_path, monkeypatch):  # noqa: F811
    (rrepo / "prompts" / "cls.yaml").write_text(with_system("Classify the item. MAGIC BREAK"))
    gh = FakeGitHub()
    try:
        for k, v in actions_env(tmp_path, gh.url).items():
            monkeypatch.setenv(k, v)
        with served(rrepo):
            r = cli.invoke(app, ["-C", str(rrepo), "regress", "--base", "base", "--github"])
    finally:
        gh.close()
    assert r.exit_code == 1
    golden_lines = (rrepo / "golden" / "cls.yaml").read_text().splitlines()
    line = next(i for i, ln in enumerate(golden_lines, 1) if "id: c1" in ln)
    assert f"::error file=golden/cls.yaml,line={line},title=promptloop regress::cls: case c1 regressed (critical)" \
        in r.output
    assert len(gh.comments) == 1 and gh.comments[0]["body"].startswith(MARKER)
    assert "❌" in gh.comments[0]["body"] and "c1" in gh.comments[0]["body"]


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
