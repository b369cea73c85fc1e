"""The run log: every optimisation run as JSON in the cache directory, rewritten as events arrive.

It is also where a winner that could not be committed stays available (``promptloop runs``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Protocol

from promptloop.optimize.events import Event, as_log


class _Finished(Protocol):
    status: str
    stop_reason: str
    usage: dict[str, Any]
    baseline_rate: float

    @property
    def winner_id(self) -> str | None: ...

    def candidate_logs(self) -> list[dict[str, Any]]: ...


class RunLog:
    """Every optimisation run as JSON in the cache directory, rewritten as events arrive."""

    def __init__(self, cache_dir: Path, prompt: str) -> None:
        self.dir = cache_dir / "runs"
        self.dir.mkdir(parents=True, exist_ok=True)
        # Unique per run even for two runs started in the same second (the file is never shared).
        self.id = time.strftime("%Y%m%d-%H%M%S") + f"-{prompt}-{os.urandom(3).hex()}"
        self.path = self.dir / f"{self.id}.json"
        self.data: dict[str, Any] = {"id": self.id, "prompt": prompt, "started": time.time(), "events": []}

    def event(self, event: Event) -> None:
        self.data["events"].append({"time": time.time(), **as_log(event)})
        self.save()

    def finish(self, outcome: _Finished, extra: dict[str, Any]) -> None:
        self.data.update(status=outcome.status, stop_reason=outcome.stop_reason, usage=outcome.usage,
                         baseline_rate=outcome.baseline_rate, finished=time.time(),
                         winner=outcome.winner_id, test_evidence=getattr(outcome, "test_evidence", None), **extra)
        self.data["candidates"] = outcome.candidate_logs()
        self.save()

    def abort(self, why: str) -> None:
        """The run ended without an outcome (interrupted, or an error): never left looking like it runs."""
        self.data.update(status="interrupted" if why == "interrupted" else "failed", stop_reason=why,
                         finished=time.time())
        self.save()

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
        tmp.replace(self.path)


def list_runs(cache_dir: Path) -> list[dict[str, Any]]:
    d = cache_dir / "runs"
    if not d.is_dir():
        return []
    out = []
    for p in d.glob("*.json"):
        try:
            out.append(json.loads(p.read_text(encoding="utf-8")))
        except ValueError:
            continue
    # Newest first, by when each started (two runs can start in the same second: ids would not tell).
    return sorted(out, key=lambda r: (float(r.get("started") or 0), str(r.get("id"))), reverse=True)
