"""``promptloop.record`` and ``promptloop.feedback``: the app's calls, in promptloop's own trace format.

Each call appends one JSON line to a sink file that ``promptloop import`` reads back, matched by prompt
name and exact version. Writing never raises into the app: a failing sink logs a warning and drops the
line. Secrets are masked before anything is written, as on import.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from promptloop.masking import redact
from promptloop.runtime.loading import LoadedPrompt

log = logging.getLogger("promptloop")
DEFAULT_SINK = "promptloop-traces.jsonl"


class TraceSink:
    """An append-only JSONL file, rotated by size (``path.1`` … ``path.N``), safe across threads and
    processes: each line is written with one ``write`` under an exclusive lock on the file."""

    def __init__(self, path: str | Path, *, max_bytes: int = 64 * 1024 * 1024, backups: int = 5) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> bool:
        """Append ``record``; False (and a warning in the log) if it could not be written."""
        try:
            line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    _lock_file(fd)
                    if self.max_bytes and os.fstat(fd).st_size + len(line) > self.max_bytes:
                        self._rotate()
                        os.close(fd)
                        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                        _lock_file(fd)
                    os.write(fd, line)
                finally:
                    os.close(fd)  # closing releases the lock
            return True
        except (OSError, TypeError, ValueError) as e:
            log.warning("promptloop: could not record a trace to %s (%s); dropped it", self.path, e)
            return False

    def _rotate(self) -> None:
        for i in range(self.backups, 0, -1):
            src = self.path if i == 1 else self.path.with_name(f"{self.path.name}.{i - 1}")
            if src.exists():
                os.replace(src, self.path.with_name(f"{self.path.name}.{i}"))


def _lock_file(fd: int) -> None:
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)
    except ImportError:  # pragma: no cover - Windows: the thread lock still serialises this process
        pass


_sinks: dict[Path, TraceSink] = {}
_sinks_lock = threading.Lock()


def sink_for(sink: str | Path | TraceSink | None) -> TraceSink:
    if isinstance(sink, TraceSink):
        return sink
    path = Path(sink or os.environ.get("PROMPTLOOP_TRACE_FILE") or DEFAULT_SINK).absolute()
    with _sinks_lock:
        return _sinks.setdefault(path, TraceSink(path))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record(prompt: LoadedPrompt, inputs: dict[str, Any], output: Any, *, model: str | None = None,
           latency_ms: float | None = None, tokens: dict[str, int] | None = None, cost_usd: float | None = None,
           session_id: str | None = None, user_id: str | None = None, metadata: dict[str, Any] | None = None,
           sink: str | Path | TraceSink | None = None, trace_id: str | None = None,
           tool_calls: list[dict[str, Any]] | None = None) -> str:
    """Append one call of ``prompt`` and return its trace id (for :func:`feedback`). Never raises.

    An answer that calls tools is recorded with ``tool_calls=[{name, arguments, id}]`` (``output`` is then
    its text, if any); it is stored as ``{"tool_calls": [...]}``, the shape a golden case expects."""
    tid = trace_id or uuid.uuid4().hex
    try:
        messages = prompt.render(**inputs)
    except Exception as e:  # the app must not fail because a trace could not be built
        log.warning("promptloop: trace %s of '%s' recorded without messages (%s)", tid, prompt.name, e)
        messages = []
    entry: dict[str, Any] = {
        "promptloop_trace": 1, "id": tid, "time": _now(), "prompt": prompt.name, "prompt_version": prompt.version,
        "model": model or prompt.model, "parameters": {k: v for k, v in prompt.params.items() if k != "model"},
        "messages": messages, "inputs": dict(inputs), "output": output,
    }
    if tool_calls:
        calls = [{k: c[k] for k in ("id", "name", "arguments") if c.get(k) is not None} for c in tool_calls]
        entry["output"] = {"tool_calls": calls, **({"content": output} if output else {})}
    optional = {"latency_ms": latency_ms, "cost_usd": cost_usd, "session_id": session_id, "user_id": user_id,
                "metadata": metadata, "tokens": {k: v for k, v in (tokens or {}).items() if k in ("input", "output")}
                or None}
    entry.update({k: v for k, v in optional.items() if v is not None})
    sink_for(sink).write(redact(entry))
    return tid


def feedback(trace_id: str, *, thumbs: bool | None = None, correction: Any = None, score: float | None = None,
             comment: str = "", name: str = "", sink: str | Path | TraceSink | None = None) -> bool:
    """Append feedback on a recorded trace (thumbs up/down, the right answer, a score in [0, 1])."""
    items = []
    if thumbs is not None:
        items.append({"kind": "thumbs", "value": bool(thumbs)})
    if correction is not None:
        items.append({"kind": "correction", "value": correction})
    if score is not None:
        items.append({"kind": "score", "value": float(score)})
    if not items:
        return False
    for item in items:
        if comment:
            item["comment"] = comment
        if name:
            item["name"] = name
    entry = {"promptloop_trace": 1, "id": f"{trace_id}:feedback:{time.time_ns()}", "feedback_for": trace_id,
             "time": _now(), "feedback": items}
    return sink_for(sink).write(redact(entry))
