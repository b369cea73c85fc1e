"""GitHub Actions: ``::error`` annotations on the golden cases that regressed, and one pull-request comment
(created once, then updated) with the gate's Markdown report. Uses the job's token through the REST API;
without a token (fork pull requests get none) the comment is skipped with a notice."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from promptloop.repo.config import Config
from promptloop.repo.prompts import golden_path, load_golden, load_prompt
from promptloop.scoring.gate import RegressReport
from promptloop.scoring.reports import regress_markdown

MARKER = "<!-- promptloop-regress -->"


def _escape(text: str) -> str:
    """Workflow-command data escaping (%, CR, LF), as the Actions runner expects."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def error_annotations(config: Config, report: RegressReport) -> list[str]:
    """One ``::error`` per regressed case (``::warning`` per errored one), at its line in the golden file."""
    out = []
    for v in report.prompts:
        bad = [c for c in v.cases if c.change in ("regressed", "error")]
        if not bad:
            continue
        where: dict[str, tuple[str, int]] = {}
        try:
            prompt = load_prompt(config, v.name)
            gpath = golden_path(config, prompt)
            golden = load_golden(gpath, prompt)
            rel = os.path.relpath(gpath, config.root)
            for i, case in enumerate(golden.cases):
                line, _ = golden.doc.where(("cases", i, "id")) if golden.doc else (None, None)
                where[case.id] = (rel, line or 1)
        except Exception:  # a deleted or broken prompt still gets its annotations, without a line
            pass
        for c in bad:
            file, line = where.get(c.id, ("", 0))
            level = "error" if c.change == "regressed" else "warning"
            what = (f"{v.name}: case {c.id} regressed" + (" (critical)" if c.critical else "")
                    if level == "error" else f"{v.name}: case {c.id} not scored (model error)")
            loc = f" file={file},line={line}" if file else ""
            out.append(f"::{level}{loc},title=promptloop regress::{_escape(what + ': ' + c.reason)}")
    return out


def comment_body(report: RegressReport) -> str:
    return MARKER + "\n" + regress_markdown(report)


def pull_request_number(event_path: str | None) -> int | None:
    if not event_path or not Path(event_path).is_file():
        return None
    event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    number = (event.get("pull_request") or {}).get("number") or event.get("number")
    return int(number) if number else None


def _call(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
               "Content-Type": "application/json", "User-Agent": "promptloop"}
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None,
                                     headers=headers)
    with urllib.request.urlopen(request, timeout=30) as resp:
        text = resp.read().decode("utf-8")
    return json.loads(text) if text else None


def post_comment(body: str, env: dict[str, str] | None = None) -> str:
    """Create or update the one promptloop comment on the pull request; returns what was done."""
    env = dict(os.environ if env is None else env)
    token, repo = env.get("GITHUB_TOKEN"), env.get("GITHUB_REPOSITORY")
    number = pull_request_number(env.get("GITHUB_EVENT_PATH"))
    if not token:
        return "skipped the PR comment: no GITHUB_TOKEN (fork pull requests get none)"
    if not repo or number is None:
        return "skipped the PR comment: not a pull request run"
    api = env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    try:
        comments = _call("GET", f"{api}/repos/{repo}/issues/{number}/comments?per_page=100", token) or []
        mine = next((c for c in comments if MARKER in str(c.get("body", ""))), None)
        if mine:
            _call("PATCH", f"{api}/repos/{repo}/issues/comments/{mine['id']}", token, {"body": body})
            return f"updated the PR comment on #{number}"
        _call("POST", f"{api}/repos/{repo}/issues/{number}/comments", token, {"body": body})
        return f"commented on #{number}"
    except (urllib.error.URLError, OSError, ValueError) as e:
        return f"could not comment on #{number}: {e}"
