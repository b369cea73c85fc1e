"""A prompt's history from git: versions, text diffs with score deltas, and rollback."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptloop.errors import ConfigError, GitError, UsageError
from promptloop.git.commits import (
    branch_name,
    check_committed,
    commit_on_branch,
    commit_sha,
    file_at,
    git_blob_id,
    open_repo,
    relpath,
    trailers,
)
from promptloop.repo.config import Config
from promptloop.repo.prompts import resolve_prompt_path

SCORE_TRAILER = "Promptloop-Pass-Rate"
BASELINE_TRAILER = "Promptloop-Baseline"  # the git blob id of the version the commit improved
BASELINE_SCORE_TRAILER = "Promptloop-Baseline-Pass-Rate"


@dataclass
class Version:
    commit: str
    date: str
    author: str
    subject: str
    score: float | None
    trailers: dict[str, str]


def _prompt_rel(config: Config, repo: Any, name: str) -> str:
    try:
        return relpath(repo, resolve_prompt_path(config, name))
    except ConfigError:
        # a deleted prompt still has history
        return relpath(repo, config.prompts_dir / f"{name}.yaml")


def versions(config: Config, name: str) -> list[Version]:
    repo = open_repo(config.root)
    rel = _prompt_rel(config, repo, name)
    sep, end = "\x1f", "\x1e"
    raw = repo.git.log("--follow", f"--format=%H{sep}%ad{sep}%an{sep}%s{sep}%B{end}", "--date=short", "--", rel)
    out = []
    for record in raw.split(end):
        record = record.strip("\n")
        if not record:
            continue
        sha, date, author, subject, body = record.split(sep, 4)
        t = trailers(body)
        score = float(t[SCORE_TRAILER]) if SCORE_TRAILER in t else None
        out.append(Version(sha, date, author, subject, score, t))
    if not out:
        raise UsageError(f"{rel} has no committed versions yet")
    return out


def resolve(repo: Any, rev: str) -> str:
    sha = commit_sha(repo, rev)
    if sha is None:
        raise UsageError(f"unknown revision '{rev}'; `promptloop log PROMPT` lists the versions")
    return sha


@dataclass
class PromptDiff:
    a: str
    b: str
    text: str
    score_a: float | None
    score_b: float | None


def diff(config: Config, name: str, a: str | None = None, b: str | None = None) -> PromptDiff:
    """Text diff of the prompt between revisions ``a`` (default HEAD) and ``b`` (default the working tree)."""
    repo = open_repo(config.root)
    rel = _prompt_rel(config, repo, name)
    a = a or "HEAD"
    a_sha = resolve(repo, a)
    a_text = file_at(repo, a_sha, rel)
    if b is None:
        path = Path(repo.working_tree_dir) / rel
        b_text = path.read_text(encoding="utf-8") if path.exists() else None
        b_label, b_sha = "working tree", None
    else:
        b_sha = resolve(repo, b)
        b_text, b_label = file_at(repo, b_sha, rel), b
    if a_text is None and b_text is None:
        raise UsageError(f"{rel} exists in neither {a} nor {b_label}")
    lines = difflib.unified_diff((a_text or "").splitlines(keepends=True), (b_text or "").splitlines(keepends=True),
                                 fromfile=f"{rel} @ {a}", tofile=f"{rel} @ {b_label}")
    score_b = score_at(repo, b_sha, rel) if b_sha else None
    score_a = score_at(repo, a_sha, rel)
    if score_a is None and b_sha:  # B was committed by optimize: it recorded the score of the version it improved
        score_a = baseline_score(repo, b_sha, rel, a_text)
    return PromptDiff(a, b_label, "".join(lines), score_a, score_b)


def baseline_score(repo: Any, rev: str, rel: str, text: str | None) -> float | None:
    """The baseline pass rate that the promptloop commit behind ``rev`` recorded, if ``text`` is that baseline."""
    sha = repo.git.log("-1", "--format=%H", rev, "--", rel).strip()
    if not sha or text is None:
        return None
    t = trailers(repo.commit(sha).message)
    value = t.get(BASELINE_SCORE_TRAILER)
    return float(value) if value is not None and t.get(BASELINE_TRAILER) == git_blob_id(text.encode()) else None


def score_at(repo: Any, rev: str, rel: str) -> float | None:
    """The pass rate recorded by the last commit up to ``rev`` that changed ``rel``, if promptloop made it."""
    sha = repo.git.log("-1", "--format=%H", rev, "--", rel).strip()
    if not sha:
        return None
    value = trailers(repo.commit(sha).message).get(SCORE_TRAILER)
    return float(value) if value is not None else None


@dataclass
class Rollback:
    rel: str
    rev: str
    branch: str | None
    commit: str | None


def rollback(config: Config, name: str, to: str, *, branch: bool = False) -> Rollback:
    """Bring the prompt back as it was at ``to``: into the working tree, or as a commit on a new branch."""
    repo = open_repo(config.root)
    rel = _prompt_rel(config, repo, name)
    sha = resolve(repo, to)
    text = file_at(repo, sha, rel)
    if text is None:
        raise UsageError(f"{rel} did not exist at {to}")
    path = Path(repo.working_tree_dir) / rel
    if branch:
        br = branch_name(config.branch_prefix, f"{Path(rel).stem}-rollback")
        message = (f"promptloop: roll back {Path(rel).stem} to {sha[:10]}\n\n"
                   f"Restores {rel} as it was at {to} ({sha}).\n\nPromptloop-Prompt: {Path(rel).stem}\n"
                   f"Promptloop-Rollback-To: {sha}\n")
        commit = commit_on_branch(repo, {rel: text}, br, message)
        return Rollback(rel, sha, br, commit)
    try:
        check_committed(repo, [path])
    except GitError:
        raise GitError(f"{rel} has uncommitted changes that a rollback would overwrite; commit or stash them, "
                       "or use --branch") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return Rollback(rel, sha, None, None)
