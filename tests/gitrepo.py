"""Helpers to build real temporary git repositories for tests."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True,
                          env={"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "T",
                               "GIT_COMMITTER_EMAIL": "t@x", "PATH": "/usr/bin:/bin:/usr/local/bin",
                               "HOME": str(root)}).stdout


def init_repo(root: Path, files: dict[str, str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Tester")
    git(root, "config", "user.email", "tester@example.com")
    commit_files(root, files, "initial")


def commit_files(root: Path, files: dict[str, str], message: str) -> str:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def snapshot(root: Path, skip: tuple[str, ...] = (".promptloop",)) -> dict[str, str]:
    """Everything a user could notice: HEAD, branch, index, status and every file's bytes."""
    out = {"HEAD": git(root, "rev-parse", "HEAD"), "branch": git(root, "symbolic-ref", "HEAD"),
           "status": git(root, "status", "--porcelain", "--untracked-files=all"),
           "index": hashlib.sha256((root / ".git" / "index").read_bytes()).hexdigest()}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not rel.startswith(".git/") and not rel.startswith(skip):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
