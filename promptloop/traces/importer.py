"""``promptloop import``: files in, normalised traces with verdicts in the local store."""

from __future__ import annotations

import gzip
import os
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptloop.errors import ConfigError, PromptloopError
from promptloop.masking import redact
from promptloop.repo.config import Config
from promptloop.repo.prompts import Prompt, list_prompt_paths, load_prompt
from promptloop.traces.formats import Importer, RecordError, detect
from promptloop.traces.prepare import Prepared, Row, prepare
from promptloop.traces.reading import block_lines, is_gzip, parse_line, read_blocks, read_records
from promptloop.traces.settle import complete_batch_traces, id_conflicts, mark_retries, refresh_verdicts
from promptloop.traces.store import Texts, TraceStore, pack_rows, store_path
from promptloop.traces.verdicts import Matcher

BATCH = 5000


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


PARALLEL_MIN_BYTES = 16 * 1024 * 1024
BLOCK_BYTES = 1 << 20  # a worker's unit of work: about a thousand traces


@dataclass
class Chunk:
    """What the records of one block or file gave, added up where they were parsed: the writing process
    merges one of these per block instead of touching every trace in Python."""

    rows: list[Row] = field(default_factory=list)
    texts: Texts = field(default_factory=dict)  # the long message texts the rows refer to, by key
    packed: bytes | None = None  # rows a worker packed (store.pack_rows): before ``rows`` in file order
    feedback: list[tuple[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: int = 0
    records: int = 0
    matched: int = 0
    by_format: dict[str, FormatStats] = field(default_factory=dict)
    batch: list[tuple[str, Any]] = field(default_factory=list)  # (where, record): joined by the writing process
    versions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (prompt, version) named by traces

    def add(self, where: str, rows: list[Prepared], feedback: list[tuple[str, Any]], skipped: list[str],
            fmt: str, *, record: bool = True) -> None:
        self.records += record
        if not record and not rows:
            return
        stats = self.by_format.setdefault(fmt or "batch join", FormatStats())
        stats.records += record
        stats.calls += len(rows)
        for reason in skipped:
            stats.skipped[reason.split(" '")[0] if " is not an LLM call" in reason else reason] += 1
        for row, matched, missing, texts in rows:
            self.texts.update(texts)
            for what in missing:
                stats.missing.setdefault(what, [0, where])[0] += 1
            self.matched += matched
            self.rows.append(row)
            if row[5]:
                self.versions[(row[4], row[5])] += 1
        self.feedback += feedback
        self.problems += [f"{where}: skipped: {reason}" for reason in skipped]

    def pack(self) -> Chunk:
        """The rows as one SQLite image: cheaper to send, and inserted by the writer in one statement."""
        if self.rows:
            self.packed = pack_rows(self.rows, self.texts)
            if self.packed is not None:
                self.rows, self.texts = [], {}
        return self

    def error(self, where: str, message: str) -> None:
        self.skipped += 1
        self.problems.append(f"{where}: {message}")


class Work:
    """Record-level work, the same in-process and in worker processes."""

    def __init__(self, matcher: Matcher, importer: Importer, forced: str | None) -> None:
        self.matcher, self.importer, self.forced = matcher, importer, forced

    def record(self, record: Any, detected: str | None = None
               ) -> tuple[list[Prepared], list[tuple[str, Any]], list[str], str]:
        try:
            parsed = self.importer.parse(record, detected)
            rows = [prepare(t, self.matcher, self.forced) for t in parsed.traces]
            return rows, [(redact(g), redact(f)) for g, f in parsed.feedback], parsed.skipped, self.importer.last
        except RecursionError:
            raise RecordError("nested too deeply to import") from None

    def records(self, items: Iterable[tuple[str, Any]], chunk: Chunk | None = None) -> Chunk:
        """(where, record or RecordError) pairs into a Chunk; batch records are parsed here too."""
        chunk = chunk or Chunk()
        for where, record in items:
            self._into(chunk, where, record)
        return chunk

    def _into(self, chunk: Chunk, where: str, record: Any, detected: str | None = None) -> None:
        if isinstance(record, RecordError):
            chunk.error(where, str(record))
            return
        try:
            chunk.add(where, *self.record(record, detected))
        except RecordError as e:
            chunk.error(where, str(e))

    def block(self, path: str, first: int, data: bytes) -> Chunk:
        """The lines of a JSONL block; Batch API records are left for the writing process, whose one
        importer joins inputs to outputs across the whole import."""
        chunk = Chunk()
        for line, raw in block_lines(first, data):
            where = f"{path}:{line}"
            record = parse_line(raw)
            detected = None
            if not isinstance(record, RecordError):
                detected = detect(record) if self.importer.fmt == "auto" else self.importer.fmt
            if detected == "openai_batch":
                chunk.batch.append((where, record))
            else:
                self._into(chunk, where, record, detected)
        return chunk


_worker: Work | None = None


def _init_worker(root: str, fmt: str, forced: str | None) -> None:
    global _worker
    from promptloop.repo.config import load_config

    _worker = Work(load_matcher(load_config(Path(root)), history_too=False), Importer(fmt), forced)


def _work_block(path: str, first: int, data: bytes) -> Chunk:
    assert _worker is not None
    return _worker.block(path, first, data).pack()


def _work_range(path: str, first: int, start: int, length: int, tail: bytes) -> Chunk:
    """A block of a plain (not gzip) file, read here from the file: the writing process only finds the
    blocks' bounds and line numbers, and sends no trace bytes through the pipe (measured: sending each
    block was a twentieth of the import's CPU)."""
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(length)
    if len(data) != length or not data.endswith(tail):
        raise OSError(f"the file changed while it was being imported (at byte {start})")
    return _work_block(path, first, data)


def is_jsonl(path: Path) -> bool:
    return path.name.lower().removesuffix(".gz").endswith(".jsonl")


def parallel_ok(path: Path) -> bool:
    return (os.cpu_count() or 1) > 1 and is_jsonl(path) and path.stat().st_size >= PARALLEL_MIN_BYTES


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
        buffer_texts: Texts = {}

        def flush() -> None:
            # One executemany per batch; duplicates are what INSERT OR IGNORE did not add. Each batch is
            # committed, so an interrupted import keeps whole batches and a rerun adds the rest.
            if buffer:
                added = store.add_rows(buffer, buffer_texts)
                if added < len(buffer):  # some ids were stored already: the same calls, or a conflict
                    summary.problems += id_conflicts(store, buffer)
                summary.imported += added
                summary.duplicates += len(buffer) - added
                buffer.clear()
                buffer_texts.clear()
            store.commit()

        def merge(chunk: Chunk) -> None:
            if chunk.packed is not None:
                flush()  # rows before this block's, in file order
                added, dropped = store.add_packed(chunk.packed)
                if dropped:
                    summary.problems += id_conflicts(store, dropped)
                summary.imported += added
                summary.duplicates += len(dropped) - added if dropped else 0
            if chunk.batch:
                work.records(chunk.batch, chunk)
            summary.records += chunk.records
            summary.skipped += chunk.skipped
            summary.matched += chunk.matched
            summary.problems += chunk.problems
            for fmt_name, s in chunk.by_format.items():
                stats = summary.by_format.setdefault(fmt_name, FormatStats())
                stats.records += s.records
                stats.calls += s.calls
                stats.skipped.update(s.skipped)
                for what, (n, where) in s.missing.items():
                    stats.missing.setdefault(what, [0, where])[0] += n
            for (name, version), n in chunk.versions.items():
                if name in matcher.history and not any(v.startswith(version) for v in matcher.history[name]):
                    unknown_versions[(name, version)] += n
            for group, f in chunk.feedback:
                if store.add_feedback(group, f):
                    summary.feedback += 1
                    touched_groups.add(group)
            buffer.extend(chunk.rows)
            buffer_texts.update(chunk.texts)
            if len(buffer) >= BATCH:
                flush()

        def read_file(path: Path) -> None:
            where = str(path)
            if parallel_ok(path) and (workers is None or workers > 1):
                import concurrent.futures as cf
                from collections import deque

                n = workers or os.cpu_count() or 2
                with cf.ProcessPoolExecutor(n, initializer=_init_worker,
                                            initargs=(str(config.root), fmt, prompt)) as pool:
                    inflight: deque[Any] = deque()
                    plain, start = not is_gzip(path), 0
                    try:
                        for first, data in read_blocks(path, BLOCK_BYTES):
                            inflight.append(pool.submit(_work_range, where, first, start, len(data), data[-64:])
                                            if plain else pool.submit(_work_block, where, first, data))
                            start += len(data)
                            if len(inflight) >= 2 * n:  # bounded: memory stays flat on any file size
                                merge(inflight.popleft().result())
                    finally:  # a file damaged part way: the blocks before the damage are still stored
                        while inflight:
                            merge(inflight.popleft().result())
            elif is_jsonl(path):
                for first, data in read_blocks(path, BLOCK_BYTES):
                    merge(work.block(where, first, data))
            else:
                merge(work.records((f"{where}:{line}", record) for line, record in read_records(path)))

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
        joined = Chunk()
        joined.add("batch join", [prepare(t, matcher, prompt) for t in leftover.traces], [], [], "openai_batch",
                   record=False)
        merge(joined)
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
        # An explicit window looks at every trace again; the configured one only where new traces came.
        mark_retries(store, window, 0 if retry_window is not None else first_new)
        store.commit()
        for source, verdict, n in store.db.execute(
                "SELECT source, verdict, COUNT(*) FROM traces WHERE rowid > ? GROUP BY source, verdict",
                (first_new,)):
            summary.formats[source] += n
            summary.verdicts[verdict] += n
    return summary


def summary_dict(s: ImportSummary) -> dict[str, Any]:
    return {"imported": s.imported, "duplicates": s.duplicates, "skipped": s.skipped, "feedback": s.feedback,
            "records_read": s.records, "files_failed": s.files_failed,
            "matched_to_prompts": s.matched, "formats": dict(s.formats), "verdicts": dict(s.verdicts),
            "by_format": {k: {"records": v.records, "calls": v.calls, "skipped": dict(v.skipped),
                              "calls_without": {w: {"count": n, "first_at": at} for w, (n, at) in v.missing.items()}}
                          for k, v in s.by_format.items()},
            "problems": s.problems}
