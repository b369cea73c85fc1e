"""``promptloop import``: files in, normalised traces with verdicts in the local store."""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptloop.errors import ConfigError, PromptloopError
from promptloop.masking import has_personal_data, has_secret, mask_personal, redact
from promptloop.repo.config import Config
from promptloop.repo.prompts import Prompt, list_prompt_paths, load_prompt
from promptloop.traces.formats import Importer, RecordError, detect
from promptloop.traces.reading import parse_line, read_lines, read_records
from promptloop.traces.store import Trace, TraceStore, row_of, store_path
from promptloop.traces.verdicts import Matcher, decide

BATCH = 1000


@dataclass
class FormatStats:
    """What one format's records gave: so a user sees at once when an export lacks what the loop needs."""

    records: int = 0
    calls: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # parts of records that hold no model call, by reason
    missing: dict[str, list[Any]] = field(default_factory=dict)  # "input"/"output" -> [calls, first file:line]


@dataclass
class ImportSummary:
    imported: int = 0
    duplicates: int = 0
    skipped: int = 0
    feedback: int = 0
    problems: list[str] = field(default_factory=list)
    formats: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)
    matched: int = 0
    by_format: dict[str, FormatStats] = field(default_factory=dict)
    records: int = 0  # records read and understood, whatever they added
    files_failed: int = 0


def load_matcher(config: Config, *, history_too: bool = True) -> Matcher:
    prompts: dict[str, Prompt] = {}
    versions: dict[str, str | None] = {}
    for path in list_prompt_paths(config):
        try:
            p = load_prompt(config, str(path))
        except ConfigError:
            continue  # `promptloop validate` reports it; import still works for the others
        prompts[p.name] = p
    history: dict[str, set[str]] = {}
    try:
        from promptloop.git.commits import blob_history, blob_id, git_blob_id, open_repo, relpath

        repo = open_repo(config.root)
        for name, p in prompts.items():
            rel = relpath(repo, p.path)
            versions[name] = blob_id(repo, "HEAD", rel)
            if history_too:  # only the writing process reports unknown versions: workers skip the git walk
                history[name] = blob_history(repo, rel) | {git_blob_id(p.path.read_bytes())}
    except PromptloopError:
        pass
    return Matcher(prompts, versions, history, keep_personal_data=bool(config.traces.get("keep_personal_data")))


CONTENT = ("messages", "output", "inputs", "expected", "metadata", "params", "feedback")
IDS = ("session_id", "user_id", "group", "id")


def clean(t: Trace, *, keep_personal_data: bool = False) -> Trace:
    """Secrets out of everything that will be stored (content and ids), and e-mail addresses and phone
    numbers out of the content unless asked to keep them; checked on the serialised form first (most
    traces hold none, and the checks are cheap substring scans before any regex runs)."""
    dump = json.dumps([getattr(t, k) for k in CONTENT], default=repr, ensure_ascii=False)
    if has_secret(dump + " ".join(str(getattr(t, k) or "") for k in IDS)):
        for k in (*CONTENT, *IDS):
            setattr(t, k, redact(getattr(t, k)))
    if not keep_personal_data and has_personal_data(dump):
        for k in ("messages", "output", "inputs", "expected", "metadata", "feedback"):
            setattr(t, k, mask_personal(getattr(t, k)))
    return t


Row = tuple[Any, ...]
Prepared = tuple[Row, bool, tuple[str, ...]]  # a store row, inputs recovered, what it lacks ("input", "output")
PARALLEL_MIN_BYTES = 16 * 1024 * 1024
CHUNK_LINES = 2000


def named_in_metadata(t: Trace) -> None:
    """A prompt name and version the app put in the call's metadata (promptloop.request, Langfuse, ...)."""
    meta: dict[str, Any] = t.metadata if isinstance(t.metadata, dict) else {}
    nested: dict[str, Any] = meta["metadata"] if isinstance(meta.get("metadata"), dict) else {}
    for holder in (meta, nested):
        t.prompt = t.prompt or holder.get("promptloop_prompt") or holder.get("promptloop.prompt")
        t.prompt_version = t.prompt_version or holder.get("promptloop_version") or \
            holder.get("promptloop.prompt_version")
        if t.inputs is None and isinstance(holder.get("promptloop_inputs"), dict):
            t.inputs = holder["promptloop_inputs"]


def prepare(t: Trace, matcher: Matcher, forced: str | None) -> tuple[Row, bool, tuple[str, ...]]:
    """Match, judge and clean one trace; returns its store row and whether its variables were recovered."""
    named_in_metadata(t)
    # Before matching and judging, so that no reason or recovered input quotes a secret.
    t = clean(t, keep_personal_data=matcher.keep_personal_data)
    name, inputs = matcher.match(t, forced)
    matched = False
    if name:
        t.prompt, t.inputs = name, inputs
        if t.prompt_version is None and name in matcher.versions and inputs is not None:
            t.prompt_version = matcher.versions[name]
        matched = inputs is not None
    t.verdict, t.reason = decide(t, t.feedback, matcher.prompts.get(t.prompt or ""))
    t.reason = redact(t.reason)
    missing = tuple(x for x, gone in (("input", not t.messages), ("output", t.output is None)) if gone)
    return row_of(t, t.to_json()), matched, missing


class Work:
    """Record-level work, the same in-process and in worker processes."""

    def __init__(self, matcher: Matcher, importer: Importer, forced: str | None) -> None:
        self.matcher, self.importer, self.forced = matcher, importer, forced

    def record(self, record: Any) -> tuple[list[Prepared], list[tuple[str, Any]], list[str], str]:
        try:
            parsed = self.importer.parse(record)
            rows = [prepare(t, self.matcher, self.forced) for t in parsed.traces]
            return rows, [(redact(g), redact(f)) for g, f in parsed.feedback], parsed.skipped, self.importer.last
        except RecursionError:
            raise RecordError("nested too deeply to import") from None

    def lines(self, chunk: list[tuple[int, str | RecordError]]) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for line, text in chunk:
            record = parse_line(text)
            if isinstance(record, RecordError):
                out.append((line, "error", str(record)))
                continue
            if self.importer.fmt in ("auto", "openai_batch") and detect(record) == "openai_batch":
                out.append((line, "batch", record))  # joins need the one importer in the main process
                continue
            try:
                out.append((line, "ok", *self.record(record)))
            except RecordError as e:
                out.append((line, "error", str(e)))
        return out


_worker: Work | None = None


def _init_worker(root: str, fmt: str, forced: str | None) -> None:
    global _worker
    from promptloop.repo.config import load_config

    _worker = Work(load_matcher(load_config(Path(root)), history_too=False), Importer(fmt), forced)


def _work_chunk(chunk: list[tuple[int, str | RecordError]]) -> list[tuple[Any, ...]]:
    assert _worker is not None
    return _worker.lines(chunk)


def jsonl_chunks(path: Path) -> Iterator[list[tuple[int, str | RecordError]]]:
    chunk: list[tuple[int, str | RecordError]] = []
    for item in read_lines(path):
        chunk.append(item)
        if len(chunk) >= CHUNK_LINES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def parallel_ok(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return (os.cpu_count() or 1) > 1 and name.endswith(".jsonl") and path.stat().st_size >= PARALLEL_MIN_BYTES


def import_files(config: Config, paths: list[Path], *, fmt: str = "auto", prompt: str | None = None,
                 retry_window: float | None = None, workers: int | None = None) -> ImportSummary:
    """Import ``paths`` into the trace store. Large JSONL files are parsed by ``workers`` processes
    (default: one per core) while this process writes to the store in file order."""
    matcher = load_matcher(config)
    if prompt is not None and prompt not in matcher.prompts:
        raise ConfigError(f"no prompt '{prompt}' in {config.prompts_dir}")
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"{path}: no such file")
    window = config.traces["retry_window"] if retry_window is None else retry_window
    summary = ImportSummary()
    work = Work(matcher, Importer(fmt), prompt)
    touched_groups: set[str] = set()
    unknown_versions: Counter[tuple[str, str]] = Counter()
    with TraceStore(store_path(config.cache_dir)) as store:
        first_new = store.max_rowid()
        buffer: list[Row] = []

        def flush() -> None:
            # One executemany per batch; duplicates are what INSERT OR IGNORE did not add. Each batch is
            # committed, so an interrupted import keeps whole batches and a rerun adds the rest.
            if buffer:
                summary.problems += id_conflicts(store, buffer)
                added = store.add_rows(buffer)
                summary.imported += added
                summary.duplicates += len(buffer) - added
                buffer.clear()
            store.commit()

        def take(where: str, rows: list[Prepared], feedback: list[tuple[str, Any]],
                 skipped: list[str], fmt: str = "", *, record: bool = True) -> None:
            summary.records += record
            if not record and not rows:
                return
            stats = summary.by_format.setdefault(fmt or "batch join", FormatStats())
            stats.records += record
            stats.calls += len(rows)
            for reason in skipped:
                stats.skipped[reason.split(" '")[0] if " is not an LLM call" in reason else reason] += 1
            for row, matched, missing in rows:
                for what in missing:
                    stats.missing.setdefault(what, [0, where])[0] += 1
                summary.matched += matched
                buffer.append(row)
                name, version = row[4], row[5]
                if version and name in matcher.history and not any(
                        v.startswith(version) for v in matcher.history[name]):
                    unknown_versions[(name, version)] += 1
            for group, f in feedback:
                if store.add_feedback(group, f):
                    summary.feedback += 1
                    touched_groups.add(group)
            summary.problems += [f"{where}: skipped: {reason}" for reason in skipped]
            if len(buffer) >= BATCH:
                flush()

        def one(where: str, record: Any) -> None:
            try:
                take(where, *work.record(record))
            except RecordError as e:
                summary.skipped += 1
                summary.problems.append(f"{where}: {e}")

        def results(path: Path, done: list[tuple[Any, ...]]) -> None:
            for item in done:
                where = f"{path}:{item[0]}"
                if item[1] == "ok":
                    take(where, item[2], item[3], item[4], item[5])
                elif item[1] == "batch":
                    one(where, item[2])
                else:
                    summary.skipped += 1
                    summary.problems.append(f"{where}: {item[2]}")

        def read_file(path: Path) -> None:
            if parallel_ok(path) and (workers is None or workers > 1):
                import concurrent.futures as cf
                from collections import deque

                n = workers or os.cpu_count() or 2
                with cf.ProcessPoolExecutor(n, initializer=_init_worker,
                                            initargs=(str(config.root), fmt, prompt)) as pool:
                    inflight: deque[Any] = deque()
                    for chunk in jsonl_chunks(path):
                        inflight.append(pool.submit(_work_chunk, chunk))
                        if len(inflight) >= 2 * n:  # bounded: memory stays flat on any file size
                            results(path, inflight.popleft().result())
                    while inflight:
                        results(path, inflight.popleft().result())
                return
            for line, record in read_records(path):
                if isinstance(record, RecordError):
                    summary.skipped += 1
                    summary.problems.append(f"{path}:{line}: {record}")
                else:
                    one(f"{path}:{line}", record)

        for path in paths:
            try:
                read_file(path)
            except (OSError, EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError) as e:
                # One broken file (truncated or corrupt gzip, unreadable) is reported; the others, and this
                # file's records before the damage, are kept.
                summary.files_failed += 1
                summary.problems.append(f"{path}: cannot be read to the end ({e.__class__.__name__}: {e}); the "
                                        "records before that point were imported")
                flush()
        leftover, inputs = work.importer.finish()
        take("batch join", [prepare(t, matcher, prompt) for t in leftover.traces], [], [], "openai_batch", record=False)
        summary.problems += leftover.skipped
        summary.skipped += len(leftover.skipped)
        flush()
        problems = complete_batch_traces(store, inputs, matcher, prompt)
        summary.problems += problems
        summary.skipped += len(problems)
        summary.problems += [f"{n} trace(s) name version {v} of prompt '{name}', which is in none of this repo's "
                             "commits (fetch the branch that has it, or they came from another repo)"
                             for (name, v), n in unknown_versions.items()]
        flush()
        # Feedback imported earlier than its traces (another file, an earlier run) decides them now.
        touched_groups |= {g for (g,) in store.db.execute(
            "SELECT DISTINCT grp FROM traces WHERE rowid > ? AND grp IN (SELECT grp FROM feedback)", (first_new,))}
        refresh_verdicts(store, matcher, touched_groups)
        mark_retries(store, window)
        store.commit()
        for source, verdict, n in store.db.execute(
                "SELECT source, verdict, COUNT(*) FROM traces WHERE rowid > ? GROUP BY source, verdict",
                (first_new,)):
            summary.formats[source] += n
            summary.verdicts[verdict] += n
    return summary


def _content(data: str) -> str:
    d = json.loads(data)
    return json.dumps([d.get("messages"), d.get("output"), d.get("model"), d.get("time")], sort_keys=True,
                      default=str)


def id_conflicts(store: TraceStore, rows: list[Row]) -> list[str]:
    """Two different calls under one id (a source reusing ids, a parser missing the real one): the second
    would be dropped as a duplicate without a word. Same id and same content is an ordinary re-import."""
    ids = [r[0] for r in rows]
    existing = dict(store.db.execute(f"SELECT id, data FROM traces WHERE id IN ({','.join('?' * len(ids))})", ids)
                    .fetchall()) if ids else {}
    first: dict[str, str] = {}
    problems = []
    for r in rows:
        tid, data = r[0], r[-1]
        earlier = existing.get(tid, first.get(tid))
        if earlier is not None and _content(earlier) != _content(data):
            problems.append(f"two different calls share the trace id {tid}; the later one was not stored")
        first.setdefault(tid, data)
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
            t.reason = redact(t.reason)
            store.update(t)


def mark_retries(store: TraceStore, window: float) -> None:
    """Implicit feedback: the same user or session asking again within ``window`` seconds.

    One pass of window functions (the next call of each user and session) instead of a
    correlated subquery per trace: linear-ish on millions of traces.
    """
    nxt = ("SELECT id, time, LEAD(time) OVER (PARTITION BY {col} ORDER BY time) AS nxt FROM traces "
           "WHERE {col} IS NOT NULL AND time IS NOT NULL")
    store.db.execute("DROP TABLE IF EXISTS temp.retried")
    store.db.execute(
        f"CREATE TEMP TABLE retried AS SELECT id FROM ({nxt.format(col='user_id')}) WHERE nxt > time AND "
        f"nxt - time <= ?1 UNION SELECT id FROM ({nxt.format(col='session_id')}) WHERE nxt > time AND "
        "nxt - time <= ?1", (window,))
    store.db.execute("UPDATE traces SET verdict = 'fail', reason = ? WHERE verdict = 'unknown' AND id IN "
                     "(SELECT id FROM temp.retried)", (f"asked again within {window:g} s (implicit retry)",))
    store.db.execute("DROP TABLE temp.retried")


def summary_dict(s: ImportSummary) -> dict[str, Any]:
    return {"imported": s.imported, "duplicates": s.duplicates, "skipped": s.skipped, "feedback": s.feedback,
            "records_read": s.records, "files_failed": s.files_failed,
            "matched_to_prompts": s.matched, "formats": dict(s.formats), "verdicts": dict(s.verdicts),
            "by_format": {k: {"records": v.records, "calls": v.calls, "skipped": dict(v.skipped),
                              "calls_without": {w: {"count": n, "first_at": at} for w, (n, at) in v.missing.items()}}
                          for k, v in s.by_format.items()},
            "problems": s.problems}
