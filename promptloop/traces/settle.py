"""After an import's rows are stored: what only the whole store can settle. Id conflicts, Batch inputs
whose output came first, verdicts from feedback that arrived apart from its calls, implicit retries."""

from __future__ import annotations

import json
from typing import Any

from promptloop import dbfile
from promptloop.masking import mask_personal, redact
from promptloop.traces.prepare import Row, prepare
from promptloop.traces.store import TraceStore
from promptloop.traces.verdicts import Matcher, decide


def _content(data: str) -> str:
    d = json.loads(data)
    return json.dumps([d.get("messages"), d.get("output"), d.get("model"), d.get("time")], sort_keys=True,
                      default=str)


def id_conflicts(store: TraceStore, rows: list[Row]) -> list[str]:
    """Two different calls under one id (a source reusing ids, a parser missing the real one): the second
    was dropped as a duplicate by INSERT OR IGNORE, which kept the first. Same id and same content is an
    ordinary re-import. Called after the insert, so the stored row is the one that was kept."""
    ids = [r[0] for r in rows]
    stored = dict(store.db.execute(f"SELECT id, data FROM traces WHERE id IN ({','.join('?' * len(ids))})", ids)
                  .fetchall()) if ids else {}
    problems = []
    kept: set[str] = set()
    for r in rows:
        tid, data = r[0], r[-1]
        if data == stored.get(tid) and tid not in kept:
            kept.add(tid)  # this row is the one stored
        elif tid in stored and _content(stored[tid]) != _content(data):
            problems.append(f"two different calls share the trace id {tid}; the later one was not stored")
    return problems


def complete_batch_traces(store: TraceStore, inputs: dict[str, dict[str, Any]], matcher: Matcher,
                          forced: str | None) -> list[str]:
    """Batch inputs whose output was imported before them: the stored call gets its messages now."""
    from promptloop.traces.formats.base import params_of
    from promptloop.traces.formats.messages import norm_messages

    problems = []
    for cid, body in inputs.items():
        rows = store.db.execute("SELECT id FROM traces WHERE source = 'openai_batch' AND "
                                "json_extract(data, '$.metadata.custom_id') = ?", (cid,)).fetchall()
        if not rows:
            problems.append(f"batch input {cid} has no output (import the output file too)")
            continue
        for t in store.query(ids=[r[0] for r in rows]):
            if t.messages:
                continue
            t.messages, t.params = norm_messages(body.get("messages")), params_of(body)
            t.model = t.model or body.get("model")
            t.prompt = t.inputs = t.prompt_version = None
            prepare(t, matcher, forced)
            store.update(t)
    return problems


def refresh_verdicts(store: TraceStore, matcher: Matcher, groups: set[str]) -> None:
    """Feedback that arrived apart from its trace (another record or file) decides again. Feedback given
    to a whole source trace that holds several calls is inherited by each: marked so, never passed off as
    a judgement of that one call."""
    for group in groups:
        traces = store.query(group=group)
        shared = store.feedback_for(group)
        for t in traces:
            fb = [*t.feedback, *shared]
            if not t.expected:
                t.expected = next((f.value for f in fb if f.kind == "correction"), None)
            t.verdict, t.reason = decide(t, fb, matcher.prompts.get(t.prompt or ""))
            own = decide(t, t.feedback, matcher.prompts.get(t.prompt or ""))
            # Inherited when the call's own feedback alone would not have reached this verdict.
            t.verdict_inherited = len(traces) > 1 and bool(shared) and t.verdict != own[0]
            if t.verdict_inherited:
                t.reason = f"inherited from feedback on the whole trace: {t.reason}"
            t.reason = redact(t.reason) if matcher.keep_personal_data else mask_personal(redact(t.reason))
            store.update(t)


def mark_retries(store: TraceStore, window: float, since_rowid: int = 0) -> None:
    """Implicit feedback: the same user or session asking again within ``window`` seconds.

    One pass of window functions (the next call of each user and session) instead of a
    correlated subquery per trace: linear-ish on millions of traces. Only users and sessions with a
    trace stored after ``since_rowid`` are looked at: no other trace can have gained a next call.
    The two passes are sorts over every trace, so each runs on its own connection in its own thread
    (SQLite releases the GIL): on two cores the end of a large import waits for one sort, not two.
    """
    from concurrent.futures import ThreadPoolExecutor

    def retried(col: str) -> list[int]:
        nxt = (f"SELECT rowid AS r, time, LEAD(time) OVER (PARTITION BY {col} ORDER BY time) AS nxt FROM traces "
               f"WHERE {col} IS NOT NULL AND time IS NOT NULL")
        args: tuple[float, ...] = (window,)
        if since_rowid > 0:  # (into an empty store every trace is new: the filter would only cost a scan)
            nxt += f" AND {col} IN (SELECT {col} FROM traces WHERE rowid > ? AND {col} IS NOT NULL)"
            args = (since_rowid, window)
        db = dbfile.connect(store.path)
        try:
            return [r for (r,) in db.execute(f"SELECT r FROM ({nxt}) WHERE nxt > time AND nxt - time <= ?", args)]
        finally:
            db.close()

    store.commit()  # the other connections read what this one wrote
    with ThreadPoolExecutor(2) as pool:
        rowids = sorted(set().union(*pool.map(retried, ("user_id", "session_id"))))
    reason = f"asked again within {window:g} s (implicit retry)"
    store.db.executemany("UPDATE traces SET verdict = 'fail', reason = ? WHERE rowid = ? AND verdict = 'unknown'",
                         ((reason, r) for r in rowids))
