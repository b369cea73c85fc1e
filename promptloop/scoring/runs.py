"""Eval history: every ``eval`` run kept in the cache directory (prompt, git revision and whether the tree
was dirty, model, metrics, each case's outcome), so "did my last edit help?" needs no hand-kept files."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptloop import dbfile
from promptloop.errors import UsageError
from promptloop.scoring.eval_run import EvalReport

SCHEMA = ("CREATE TABLE IF NOT EXISTS evals (id INTEGER PRIMARY KEY, prompt TEXT NOT NULL, time REAL NOT NULL, "
          "revision TEXT, dirty INTEGER, model TEXT, metrics TEXT NOT NULL, cases TEXT NOT NULL)")


@dataclass
class EvalRun:
    id: int
    prompt: str
    time: float
    revision: str | None
    dirty: bool
    model: str
    metrics: dict[str, Any]
    cases: dict[str, str]  # case id (#sample) -> passed | failed | error


def _db(cache_dir: Path) -> sqlite3.Connection:
    db = dbfile.connect(cache_dir / "evals.sqlite")
    with dbfile.reading(cache_dir / "evals.sqlite"):
        db.execute(SCHEMA)
    return db


def _case_key(case_id: str, sample: int) -> str:
    return case_id if sample == 0 else f"{case_id}#{sample}"


def record(cache_dir: Path, report: EvalReport, *, revision: str | None, dirty: bool) -> int:
    cases = {_case_key(r.case_id, r.sample): r.status for r in report.results}
    with _db(cache_dir) as db:
        cur = db.execute("INSERT INTO evals (prompt, time, revision, dirty, model, metrics, cases) "
                         "VALUES (?,?,?,?,?,?,?)",
                         (report.prompt, time.time(), revision, int(dirty), report.model,
                          json.dumps(report.summary.metrics), json.dumps(cases)))
        return int(cur.lastrowid or 0)


def _row(r: Any) -> EvalRun:
    return EvalRun(id=r[0], prompt=r[1], time=r[2], revision=r[3], dirty=bool(r[4]), model=r[5],
                   metrics=json.loads(r[6]), cases=json.loads(r[7]))


def runs(cache_dir: Path, prompt: str | None = None, limit: int = 50) -> list[EvalRun]:
    """Newest first."""
    if not (cache_dir / "evals.sqlite").exists():
        return []
    with _db(cache_dir) as db:
        sql, args = "SELECT * FROM evals", []
        if prompt:
            sql, args = sql + " WHERE prompt = ?", [prompt]
        return [_row(r) for r in db.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, limit])]


def get(cache_dir: Path, run_id: int) -> EvalRun:
    found = [r for r in runs(cache_dir, limit=10**9) if r.id == run_id]
    if not found:
        raise UsageError(f"no eval run {run_id}; `promptloop history` lists them")
    return found[0]


def flips(before: EvalRun, after: EvalRun) -> dict[str, list[str]]:
    """Cases whose outcome changed between two runs of one prompt, by direction."""
    out: dict[str, list[str]] = {"fixed": [], "broke": [], "other": []}
    for case, now in sorted(after.cases.items()):
        was = before.cases.get(case)
        if was is None or was == now:
            continue
        key = "fixed" if now == "passed" else "broke" if was == "passed" else "other"
        out[key].append(f"{case} ({was} -> {now})")
    return out
