"""Traces: production LLM calls, normalised, with their feedback and a verdict.

The store is SQLite in the cache directory (never in git: traces hold personal data).
Import is idempotent: a trace's id comes from its source, so the same file twice adds nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from promptloop import codec, dbfile
from promptloop.errors import ConfigError


@dataclass(slots=True)
class Feedback:
    kind: str  # thumbs | score | correction | retry | eval
    value: Any = None
    name: str = ""
    comment: str = ""


@dataclass(slots=True)
class Trace:
    id: str
    source: str
    group: str = ""  # the source system's trace id: feedback may arrive for it separately
    time: str | None = None
    prompt: str | None = None
    prompt_version: str | None = None
    model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    inputs: dict[str, Any] | None = None
    output: Any = None
    expected: Any = None
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    feedback: list[Feedback] = field(default_factory=list)
    session_id: str | None = None
    user_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tools: list[dict[str, Any]] = field(default_factory=list)  # the tools the call was given (OpenAI's shape)
    verdict: str = "unknown"  # pass | fail | unknown
    reason: str = ""
    verdict_inherited: bool = False  # decided by feedback given to the whole trace, not this call

    @property
    def output_text(self) -> str:
        if self.output is None:
            return ""
        return self.output if isinstance(self.output, str) else json.dumps(self.output, ensure_ascii=False)

    def epoch(self) -> float | None:
        return parse_time(self.time)

    def to_json(self) -> str:
        return codec.dumps(self)  # orjson writes dataclasses itself: no dict built per trace

    @classmethod
    def from_json(cls, text: str) -> Trace:
        d = codec.loads(text)
        d["feedback"] = [Feedback(**f) for f in d.get("feedback", [])]
        return cls(**d)


def parse_time(value: Any) -> float | None:
    """Seconds since the epoch from ISO 8601 text or a number (s, ms, µs or ns)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, str) and value[-1:] == "Z" and value[:1].isdigit():  # the usual export: one call
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            pass
    if isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1).isdigit():
        value = float(value)  # epoch numbers exported as strings (OTLP's int64, some SDKs' timestamps)
    if isinstance(value, (int, float)):
        v = float(value)
        for limit, scale in ((1e17, 1e9), (1e14, 1e6), (1e11, 1e3)):  # ns, µs, ms by magnitude
            if v > limit:
                return v / scale
        return v
    try:
        text = str(value).replace("Z", "+00:00")
        dt = datetime.fromisoformat(text)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()
    except ValueError:
        return None


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat().replace("+00:00", "Z")


# Positions in a store row (``row_of``) that the importer reads before the row is stored.
ROW_PROMPT, ROW_VERSION = 4, 5


def row_of(t: Trace, data: str) -> tuple[Any, ...]:
    """The store's columns for ``t``; ``data`` is its stored JSON (see ``encode``)."""
    return (t.id, t.group or t.id, t.source, t.epoch(), t.prompt, t.prompt_version, t.model, t.session_id,
            t.user_id, t.verdict, t.reason, data)


# A message text this long is stored once, in the texts table, and each trace holds its key: production
# calls repeat the same system prompt and examples in every call (in the import benchmark the system
# prompt is a third of each row; real prompts with few-shot examples are often most of it).
LONG_TEXT = 256
Texts = dict[str, str]  # key -> text


@functools.lru_cache(maxsize=256)  # the repeated texts are a few prompts; unique ones only pass through
def text_key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def encode(t: Trace) -> tuple[str, Texts]:
    """``t``'s stored JSON, where each long message text is ``{"$text": key}``, and those texts by key.
    (Message contents are always strings once normalised, so an object there can only be a key.)"""
    texts: Texts = {}
    messages, tools = t.messages, t.tools
    stored = []
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, str) and len(content) >= LONG_TEXT:
            key = text_key(content)
            texts[key] = content
            m = {**m, "content": {"$text": key}}
        stored.append(m)
    stored_tools: Any = tools
    if tools:  # the same tool definitions go with every call of an agent: stored once, as one text
        text = codec.dumps(tools)
        if len(text) >= LONG_TEXT:
            key = text_key(text)
            texts[key] = text
            stored_tools = {"$text": key}
    if not texts:
        return t.to_json(), texts
    try:  # written with the keys, without a copy of the whole trace
        t.messages, t.tools = stored, stored_tools
        return t.to_json(), texts
    finally:
        t.messages, t.tools = messages, tools


COLUMNS = "id, grp, source, time, prompt, prompt_version, model, session_id, user_id, verdict, reason, data"
INSERT = f"INSERT OR IGNORE INTO traces ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"


def pack_rows(rows: list[tuple[Any, ...]], texts: Texts) -> bytes | None:
    """``rows`` and the texts they refer to as a small SQLite database image (``TraceStore.add_packed``
    inserts it). A parsing worker packs its block's rows so that the one writing process inserts them in a
    single statement instead of binding every value from Python. None where this SQLite cannot serialise
    (the caller sends rows)."""
    if not hasattr(sqlite3.Connection, "serialize"):
        return None
    db = sqlite3.connect(":memory:")
    try:
        db.execute(f"CREATE TABLE rows ({COLUMNS})")
        db.execute("CREATE TABLE texts (key, text)")
        db.executemany("INSERT INTO rows VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        db.executemany("INSERT INTO texts VALUES (?,?)", texts.items())
        db.commit()
        return db.serialize()
    finally:
        db.close()

SCHEMA = """
CREATE TABLE IF NOT EXISTS traces (
  id TEXT PRIMARY KEY, grp TEXT, source TEXT, time REAL, prompt TEXT, prompt_version TEXT, model TEXT,
  session_id TEXT, user_id TEXT, verdict TEXT, reason TEXT, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS traces_grp ON traces(grp);
CREATE INDEX IF NOT EXISTS traces_prompt ON traces(prompt);
CREATE TABLE IF NOT EXISTS feedback (
  key TEXT PRIMARY KEY, grp TEXT NOT NULL, kind TEXT, name TEXT, value TEXT, comment TEXT);
CREATE INDEX IF NOT EXISTS feedback_grp ON feedback(grp);
CREATE TABLE IF NOT EXISTS texts (key TEXT PRIMARY KEY, text TEXT NOT NULL);
"""
INSERT_TEXT = "INSERT OR IGNORE INTO texts (key, text) VALUES (?, ?)"


class TraceStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = dbfile.connect(path)
        with dbfile.reading(path):
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        self._block_attached = False
        self._texts: Texts = {}  # texts read back, by key (a query of many traces of one prompt reads one)

    def close(self) -> None:
        self.db.commit()
        self.db.close()

    def __enter__(self) -> TraceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, t: Trace) -> bool:
        """Insert ``t``; False when a trace with its id is already stored."""
        data, texts = encode(t)
        self.add_texts(texts)
        return self.add_row(row_of(t, data))

    def add_texts(self, texts: Texts) -> None:
        self.db.executemany(INSERT_TEXT, texts.items())

    def add_rows(self, rows: list[tuple[Any, ...]], texts: Texts) -> int:
        """Insert many rows and the texts they refer to; returns how many rows were new."""
        self.add_texts(texts)
        before = self.db.total_changes
        self.db.executemany(INSERT, rows)
        return self.db.total_changes - before

    def add_packed(self, image: bytes) -> tuple[int, list[tuple[Any, ...]]]:
        """Insert the rows of a ``pack_rows`` image in their order, and commit; returns how many were new,
        and, when some were not, all the image's rows (to tell re-imports from id conflicts)."""
        self.db.commit()  # attaching and deserialising need the schemas out of any transaction
        if not self._block_attached:
            self.db.execute("ATTACH DATABASE ':memory:' AS block")
            self._block_attached = True
        self.db.deserialize(image, name="block")
        self.db.execute("INSERT OR IGNORE INTO texts (key, text) SELECT key, text FROM block.texts")
        before = self.db.total_changes
        self.db.execute(f"INSERT OR IGNORE INTO traces ({COLUMNS}) SELECT {COLUMNS} FROM block.rows ORDER BY rowid")
        added = self.db.total_changes - before
        dropped = [] if added == self._block_count() else \
            self.db.execute(f"SELECT {COLUMNS} FROM block.rows ORDER BY rowid").fetchall()
        self.db.commit()
        return added, dropped

    def _block_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM block.rows").fetchone()[0])

    def max_rowid(self) -> int:
        return int(self.db.execute("SELECT COALESCE(MAX(rowid), 0) FROM traces").fetchone()[0])

    def groups_with_feedback_since(self, rowid: int) -> set[str]:
        """Groups of the traces added after ``rowid`` that have feedback stored (perhaps imported earlier)."""
        return {g for (g,) in self.db.execute(
            "SELECT DISTINCT grp FROM traces WHERE rowid > ? AND grp IN (SELECT grp FROM feedback)", (rowid,))}

    def counts_since(self, rowid: int) -> list[tuple[str, str, int]]:
        """(source format, verdict, count) of the traces added after ``rowid``."""
        return [(str(s), str(v), int(n)) for s, v, n in self.db.execute(
            "SELECT source, verdict, COUNT(*) FROM traces WHERE rowid > ? GROUP BY source, verdict", (rowid,))]

    def add_row(self, row: tuple[Any, ...]) -> bool:
        return self.db.execute(INSERT, row).rowcount == 1

    def add_feedback(self, group: str, f: Feedback) -> bool:
        key = json.dumps([group, f.kind, f.name, f.value, f.comment], sort_keys=True, default=str)
        cur = self.db.execute("INSERT OR IGNORE INTO feedback (key, grp, kind, name, value, comment) "
                              "VALUES (?,?,?,?,?,?)", (key, group, f.kind, f.name, json.dumps(f.value), f.comment))
        return cur.rowcount == 1

    def feedback_for(self, group: str) -> list[Feedback]:
        rows = self.db.execute("SELECT kind, name, value, comment FROM feedback WHERE grp = ?", (group,))
        return [Feedback(kind=k, name=n, value=json.loads(v), comment=c) for k, n, v, c in rows]

    def update(self, t: Trace) -> None:
        data, texts = encode(t)
        self.add_texts(texts)
        self.db.execute("UPDATE traces SET prompt=?, prompt_version=?, verdict=?, reason=?, data=? WHERE id=?",
                        (t.prompt, t.prompt_version, t.verdict, t.reason, data, t.id))

    def commit(self) -> None:
        self.db.commit()

    def get(self, trace_id: str) -> Trace | None:
        row = self.db.execute("SELECT data, verdict, reason FROM traces WHERE id = ?", (trace_id,)).fetchone()
        return None if row is None else self._row(row)

    def query(self, prompt: str | None = None, verdict: str | None = None, ids: list[str] | None = None,
              group: str | None = None) -> list[Trace]:
        sql, args = "SELECT data, verdict, reason FROM traces WHERE 1=1", []
        if prompt is not None:
            sql += " AND prompt = ?"
            args.append(prompt)
        if verdict is not None:
            sql += " AND verdict = ?"
            args.append(verdict)
        if group is not None:
            sql += " AND grp = ?"
            args.append(group)
        if ids is not None:
            sql += f" AND id IN ({','.join('?' * len(ids))})"
            args += ids
        return [self._row(r) for r in self.db.execute(sql + " ORDER BY time, id", args)]

    def _row(self, row: Any) -> Trace:
        t = Trace.from_json(row[0])
        t.verdict, t.reason = row[1], row[2]  # the columns are authoritative (set-wise updates touch only them)
        for m in t.messages:
            content = m.get("content") if isinstance(m, dict) else None
            if isinstance(content, dict) and "$text" in content:
                m["content"] = self._text(str(content["$text"]), t.id)
        if isinstance(t.tools, dict) and "$text" in t.tools:
            t.tools = codec.loads(self._text(str(t.tools["$text"]), t.id))
        return t

    def _text(self, key: str, trace_id: str) -> str:
        text = self._texts.get(key)
        if text is None:
            found = self.db.execute("SELECT text FROM texts WHERE key = ?", (key,)).fetchone()
            if found is None:
                raise ConfigError(f"{self.path}: trace {trace_id} refers to a message text the store does not "
                                  "hold (the store is damaged); delete it and import the traces again")
            if len(self._texts) >= 4096:
                self._texts.clear()
            text = self._texts[key] = found[0]
        return text

    def prompts(self) -> set[str]:
        """The prompts the stored traces were matched to."""
        return {str(p) for (p,) in self.db.execute("SELECT DISTINCT prompt FROM traces WHERE prompt IS NOT NULL")}

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM traces").fetchone()[0])


def store_path(cache_dir: Path) -> Path:
    return cache_dir / "traces.sqlite"


def summarize(traces: list[Trace], top: int = 5) -> dict[str, Any]:
    """Counts by verdict, prompt version and model; top failure reasons; latency and cost percentiles."""
    from collections import Counter

    from promptloop.scoring.metrics import percentile

    lat = [t.latency_ms for t in traces if t.latency_ms is not None]
    cost = [t.cost_usd for t in traces if t.cost_usd is not None]
    return {
        "traces": len(traces),
        "verdicts": dict(Counter(t.verdict for t in traces)),
        "verdict_provenance": {"direct": sum(1 for t in traces if t.verdict != "unknown" and not t.verdict_inherited),
                               "inherited": sum(1 for t in traces if t.verdict_inherited)},
        "prompt_versions": dict(Counter(f"{t.prompt or '(unmatched)'}@{(t.prompt_version or '?')[:10]}"
                                        for t in traces)),
        "models": dict(Counter(t.model or "?" for t in traces)),
        "top_failure_reasons": Counter(t.reason for t in traces if t.verdict == "fail").most_common(top),
        "latency_ms": {"p50": percentile(lat, 0.5), "p95": percentile(lat, 0.95), "n": len(lat)},
        "cost_usd": {"p50": percentile(cost, 0.5), "p95": percentile(cost, 0.95), "total": sum(cost) if cost else None},
    }
