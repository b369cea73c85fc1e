"""The SQLite files promptloop keeps in its cache directory (completion cache, trace store, eval history),
opened in one place: a file that is damaged or not a database becomes one line naming it, what deleting it
loses, and that promptloop starts it afresh — never a traceback."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from promptloop.errors import DamagedFile

# What each file holds: what deleting it loses.
HOLDS = {"cache.sqlite": "the cached model answers, which are paid for again",
         "traces.sqlite": "the imported traces, which `promptloop import` reads again from your exports",
         "evals.sqlite": "the eval history that `promptloop history` and `eval --compare` show"}


def damaged(path: Path, error: Exception) -> DamagedFile:
    holds = HOLDS.get(path.name, "what it holds")
    return DamagedFile(f"{path} cannot be read ({error}); delete it and promptloop starts it afresh "
                       f"(lost: {holds})")


def is_damage(error: Exception) -> bool:
    """Damage, as opposed to a busy file: not a database, malformed, or not the tables promptloop wrote."""
    if not isinstance(error, sqlite3.DatabaseError):
        return False
    if isinstance(error, sqlite3.OperationalError):
        text = str(error)
        return "no such" in text or "malformed" in text or "disk I/O" in text
    return True


def connect(path: Path, **kwargs: Any) -> sqlite3.Connection:
    """``sqlite3.connect`` that reads the file's header and schema at once, so damage shows here, named."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = sqlite3.connect(str(path), **kwargs)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.DatabaseError as e:
        if is_damage(e):
            raise damaged(path, e) from None
        raise


@contextmanager
def reading(path: Path) -> Iterator[None]:
    """Damage found while using the file (a malformed page deep inside) named like damage found on opening."""
    try:
        yield
    except sqlite3.DatabaseError as e:
        if is_damage(e):
            raise damaged(path, e) from None
        raise
