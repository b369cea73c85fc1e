"""The persistent completion cache: SQLite, one row per (model, messages, params, sample).

Rows are committed one by one as results arrive, so an interrupted run loses
no paid call. No API key or header is ever part of a key or a row.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

from promptloop import dbfile


def cache_key(payload: dict[str, Any]) -> str:
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class CompletionCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = dbfile.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process; only power loss can drop the last rows.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS completions (key TEXT PRIMARY KEY, model TEXT, "
            "response TEXT NOT NULL, created REAL NOT NULL)"
        )

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT response FROM completions WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, model: str, response: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO completions (key, model, response, created) VALUES (?, ?, ?, ?)",
                (key, model, json.dumps(response, ensure_ascii=False), time.time()),
            )

    def stats(self) -> dict[str, Any]:
        """Completions per model, and the file's size: what `promptloop cache info` shows."""
        with self._lock:
            rows = self._db.execute("SELECT model, COUNT(*) FROM completions GROUP BY model ORDER BY 2 DESC")
            by_model = {str(m): int(n) for m, n in rows}
        size = sum(f.stat().st_size for f in self.path.parent.glob(self.path.name + "*") if f.is_file())
        return {"path": str(self.path), "completions": sum(by_model.values()), "by_model": by_model, "bytes": size}

    def clear(self, model: str | None = None) -> int:
        """Delete cached completions (of ``model`` only, if given); traces and run logs are elsewhere."""
        with self._lock:
            cur = self._db.execute("DELETE FROM completions" + (" WHERE model = ?" if model else ""),
                                   (model,) if model else ())
            self._db.execute("VACUUM")
            return int(cur.rowcount)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
