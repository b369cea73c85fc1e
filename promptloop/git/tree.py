"""The working tree's revision and dirty flag, as the eval history records them.

Plain ``git`` subprocesses, not GitPython: read in a thread while an eval's calls are in flight, they
spend their time waiting on the subprocess (the GIL free for the event loop), and importing GitPython
would hold it for 30 ms.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from pathlib import Path


def tree_state(root: Path, watched: tuple[Path, ...] = ()) -> tuple[str | None, bool]:
    """(HEAD's commit id or None, whether the tree differs from it); (None, False) outside a git repository
    or without git. Dirty means a tracked file changed, or an untracked file is among ``watched`` (the
    prompts, golden sets and config): a report or a note left beside them is not a change to what was scored."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout if out.returncode == 0 else None

    head = git("rev-parse", "--verify", "--quiet", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    if status is None:
        return None, False
    untracked = git("ls-files", "--others", "--exclude-standard", "--", *map(str, watched)) if watched else ""
    return (head or "").strip() or None, bool(status.strip() or (untracked or "").strip())


def tree_state_later(root: Path, watched: tuple[Path, ...] = ()) -> Callable[[], tuple[str | None, bool]]:
    """Start reading ``tree_state`` in a thread (it waits on subprocesses, leaving the GIL to an event loop
    that is running calls meanwhile); call the result to get it."""
    found: list[tuple[str | None, bool]] = []
    thread = threading.Thread(target=lambda: found.append(tree_state(root, watched)), daemon=True)
    thread.start()

    def get() -> tuple[str | None, bool]:
        thread.join()
        return found[0] if found else (None, False)

    return get
