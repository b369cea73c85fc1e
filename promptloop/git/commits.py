"""Committing a prompt change on a new branch without touching the user's checkout.

The commit is built in a temporary index file from HEAD's tree: HEAD, the current branch,
the real index, the working tree and untracked files stay byte-for-byte as they were.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from promptloop.errors import GitError


def open_repo(path: Path) -> Any:
    import git

    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitError(f"{path} is not inside a git repository; run `git init` and commit your prompts first") \
            from None


def relpath(repo: Any, path: Path) -> str:
    return Path(os.path.relpath(path.resolve(), Path(repo.working_tree_dir).resolve())).as_posix()


def check_committed(repo: Any, paths: list[Path]) -> None:
    """Refuse to work from files whose content is not what HEAD holds."""
    if not repo.head.is_valid():
        raise GitError("the repository has no commits yet; commit your prompt and golden set first")
    rels = [relpath(repo, p) for p in paths]
    status = repo.git.status("--porcelain", "--untracked-files=all", "--", *rels)
    if status.strip():
        names = sorted({line[3:] for line in status.splitlines()})
        raise GitError(f"uncommitted changes in {', '.join(names)}: commit or stash them first, so the "
                       "optimised prompt is based on a version that exists in history")


def branch_name(prefix: str, prompt: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", prompt)
    return f"{prefix.rstrip('/')}/{safe}-{stamp}"


def _identity_env(repo: Any) -> dict[str, str]:
    env: dict[str, str] = {}
    reader = repo.config_reader()
    if not reader.get_value("user", "name", default="") and "GIT_AUTHOR_NAME" not in os.environ:
        env.update(GIT_AUTHOR_NAME="promptloop", GIT_COMMITTER_NAME="promptloop")
    if not reader.get_value("user", "email", default="") and "GIT_AUTHOR_EMAIL" not in os.environ:
        env.update(GIT_AUTHOR_EMAIL="promptloop@localhost", GIT_COMMITTER_EMAIL="promptloop@localhost")
    return env


class BranchTaken(GitError):
    """Another process created the branch between the check and the commit."""


def commit_on_free_branch(repo: Any, files: dict[str, str], name: str, message: str) -> tuple[str, str]:
    """(commit, branch): ``files`` committed on ``name``, or on ``name-2``, ``name-3``… when another run took the
    name first — even one that took it between the check and the commit (two runs started in one second)."""
    for _ in range(20):
        branch = free_branch_name(repo, name)
        try:
            return commit_on_branch(repo, files, branch, message), branch
        except BranchTaken:
            continue
    raise GitError(f"no free branch name like {name}; delete old promptloop branches and run again")


def commit_on_branch(repo: Any, files: dict[str, str], branch: str, message: str,
                     parent: str = "HEAD") -> str:
    """Commit ``files`` (repo-relative path -> new text) on a new ``branch`` whose parent is ``parent``."""
    import git
    from gitdb import IStream

    if branch in [h.name for h in repo.heads]:
        raise BranchTaken(f"branch {branch} already exists; delete it or wait a second and run again")
    parent_sha = repo.commit(parent).hexsha
    with tempfile.TemporaryDirectory(prefix="promptloop-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), **_identity_env(repo)}
        repo.git.execute(["git", "read-tree", parent_sha], env=env)
        for rel, text in files.items():
            data = text.encode("utf-8")
            blob = repo.odb.store(IStream(b"blob", len(data), BytesIO(data))).hexsha
            blob = blob.decode() if isinstance(blob, bytes) else blob
            mode = "100644"
            try:
                entry = repo.commit(parent_sha).tree / rel
                mode = oct(entry.mode)[2:]
            except KeyError:
                pass
            repo.git.execute(["git", "update-index", "--add", "--cacheinfo", f"{mode},{blob},{rel}"], env=env)
        tree = repo.git.execute(["git", "write-tree"], env=env).strip()
        commit = repo.git.execute(["git", "commit-tree", tree, "-p", parent_sha, "-m", message], env=env).strip()
    try:  # "" as the old value: fails, rather than overwrites, if another run took the name meanwhile
        repo.git.execute(["git", "update-ref", f"refs/heads/{branch}", commit, ""])
    except git.GitCommandError:
        raise BranchTaken(f"branch {branch} was created by someone else meanwhile; run again") from None
    return str(commit)


def free_branch_name(repo: Any, name: str) -> str:
    """``name``, or ``name-2``, ``name-3``… if a branch of that name exists (two runs in one second)."""
    taken = {h.name for h in repo.heads}
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def diff_stat(repo: Any, branch: str) -> str:
    return str(repo.git.diff("--stat", f"{branch}~1", branch))


def file_at(repo: Any, rev: str, rel: str) -> str | None:
    """The text of ``rel`` at ``rev``, or None if it does not exist there."""
    from gitdb.exc import BadName

    try:
        blob = repo.commit(rev).tree / rel
    except (KeyError, ValueError, BadName):
        return None
    return str(blob.data_stream.read().decode("utf-8"))


def blob_id(repo: Any, rev: str, rel: str) -> str | None:
    import git

    try:
        return str(repo.git.rev_parse(f"{rev}:{rel}"))
    except git.GitCommandError:
        return None


def commit_sha(repo: Any, rev: str) -> str | None:
    """The commit ``rev`` names, or None when it names none here."""
    from gitdb.exc import BadName

    try:
        return str(repo.commit(rev).hexsha)
    except (BadName, ValueError):
        return None


def trailers(message: str) -> dict[str, str]:
    """The ``Key: value`` trailers in the last paragraph of a commit message."""
    last = message.strip().split("\n\n")[-1]
    out: dict[str, str] = {}
    for line in last.splitlines():
        m = re.match(r"^([A-Za-z][A-Za-z0-9-]*): (.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def git_blob_id(data: bytes) -> str:
    """The id git gives these bytes as a blob: the same wherever the same text is, committed or not."""
    import hashlib

    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def blob_history(repo: Any, rel: str) -> set[str]:
    """Every blob id the file ``rel`` has had in any commit of any branch."""
    out = repo.git.rev_list("--all", "--objects", "--", rel)
    return {line.split(" ", 1)[0] for line in out.splitlines() if line.endswith(" " + rel)}
