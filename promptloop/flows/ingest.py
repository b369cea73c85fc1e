"""``promptloop import``: trace files in, normalised traces with verdicts in the local store.

Large JSONL files are parsed by worker processes while this process writes to the store in file order;
every batch is committed, so an interrupted import keeps whole batches and a rerun adds the rest."""

from __future__ import annotations

import gzip
import os
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

from promptloop.errors import ConfigError
from promptloop.repo.config import Config
from promptloop.traces.formats import Importer
from promptloop.traces.importer import (
    Chunk,
    FormatStats,
    ImportSummary,
    Work,
    init_worker,
    is_jsonl,
    load_matcher,
    work_block,
    work_range,
)
from promptloop.traces.prepare import Row, prepare
from promptloop.traces.reading import is_gzip, read_blocks, read_records
from promptloop.traces.settle import complete_batch_traces, id_conflicts, mark_retries, refresh_verdicts
from promptloop.traces.store import Texts, TraceStore, store_path
from promptloop.traces.verdicts import Matcher

BATCH = 5000  # rows per transaction
PARALLEL_MIN_BYTES = 16 * 1024 * 1024  # smaller files are parsed in this process
BLOCK_BYTES = 1 << 20  # a worker's unit of work: about a thousand traces
UNREADABLE = (OSError, EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError)


def import_files(config: Config, paths: list[Path], *, fmt: str = "auto", prompt: str | None = None,
                 retry_window: float | None = None, workers: int | None = None,
                 parallel_min: int = PARALLEL_MIN_BYTES, block_bytes: int = BLOCK_BYTES) -> ImportSummary:
    """Import ``paths`` into the trace store. JSONL files of ``parallel_min`` bytes or more are parsed by
    ``workers`` processes (default: one per core) in blocks of ``block_bytes``."""
    matcher = load_matcher(config)
    if prompt is not None and prompt not in matcher.prompts:
        raise ConfigError(f"no prompt '{prompt}' in {config.prompts_dir}")
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"{path}: no such file")
    window = config.traces["retry_window"] if retry_window is None else retry_window
    with TraceStore(store_path(config.cache_dir)) as store:
        ingest = Ingest(config, store, matcher, Work(matcher, Importer(fmt), prompt), fmt=fmt, workers=workers,
                        parallel_min=parallel_min, block_bytes=block_bytes)
        for path in paths:
            ingest.read_file(path)
        ingest.finish(window, explicit_window=retry_window is not None)
    return ingest.summary


class Ingest:
    """One import into one store: blocks merged in file order, rows written in batches."""

    def __init__(self, config: Config, store: TraceStore, matcher: Matcher, work: Work, *, fmt: str,
                 workers: int | None, parallel_min: int, block_bytes: int) -> None:
        self.config, self.store, self.matcher, self.work, self.fmt = config, store, matcher, work, fmt
        self.workers, self.parallel_min, self.block_bytes = workers, parallel_min, block_bytes
        self.summary = ImportSummary()
        self.first_new = store.max_rowid()  # every trace after this rowid is this import's
        self.buffer: list[Row] = []
        self.buffer_texts: Texts = {}
        self.touched_groups: set[str] = set()  # groups whose feedback arrived: their verdicts are decided again
        self.unknown_versions: Counter[tuple[str, str]] = Counter()

    def read_file(self, path: Path) -> None:
        """One file's records into the store; a file damaged part way keeps the records before the damage."""
        try:
            if self._parallel(path):
                self._read_parallel(path)
            elif is_jsonl(path):
                for first, data in read_blocks(path, self.block_bytes):
                    self.merge(self.work.block(str(path), first, data))
            else:
                self.merge(self.work.records((f"{path}:{line}", record) for line, record in read_records(path)))
        except UNREADABLE as e:
            self.summary.files_failed += 1
            self.summary.problems.append(f"{path}: cannot be read to the end ({e.__class__.__name__}: {e}); the "
                                         "records before that point were imported")
            self.flush()

    def _parallel(self, path: Path) -> bool:
        return ((self.workers is None or self.workers > 1) and (os.cpu_count() or 1) > 1 and is_jsonl(path)
                and path.stat().st_size >= self.parallel_min)

    def _read_parallel(self, path: Path) -> None:
        import concurrent.futures as cf
        from collections import deque

        n = self.workers or os.cpu_count() or 2
        where = str(path)
        with cf.ProcessPoolExecutor(n, initializer=init_worker,
                                    initargs=(str(self.config.root), self.fmt, self.work.forced)) as pool:
            inflight: deque[Any] = deque()
            plain, start = not is_gzip(path), 0
            try:
                for first, data in read_blocks(path, self.block_bytes):
                    inflight.append(pool.submit(work_range, where, first, start, len(data), data[-64:])
                                    if plain else pool.submit(work_block, where, first, data))
                    start += len(data)
                    if len(inflight) >= 2 * n:  # bounded: memory stays flat on any file size
                        self.merge(inflight.popleft().result())
            finally:  # a file damaged part way: the blocks before the damage are still stored
                while inflight:
                    self.merge(inflight.popleft().result())

    def flush(self) -> None:
        """Write the buffered rows (duplicates are what INSERT OR IGNORE did not add) and commit."""
        if self.buffer:
            added = self.store.add_rows(self.buffer, self.buffer_texts)
            if added < len(self.buffer):  # some ids were stored already: the same calls, or a conflict
                self.summary.problems += id_conflicts(self.store, self.buffer)
            self.summary.imported += added
            self.summary.duplicates += len(self.buffer) - added
            self.buffer.clear()
            self.buffer_texts.clear()
        self.store.commit()

    def merge(self, chunk: Chunk) -> None:
        """One block's results, in file order: packed rows at once, plain rows into the buffer."""
        s = self.summary
        if chunk.packed is not None:
            self.flush()  # rows before this block's, in file order
            added, dropped = self.store.add_packed(chunk.packed)
            if dropped:
                s.problems += id_conflicts(self.store, dropped)
            s.imported += added
            s.duplicates += len(dropped) - added if dropped else 0
        if chunk.batch:
            self.work.records(chunk.batch, chunk)
        s.records += chunk.records
        s.skipped += chunk.skipped
        s.matched += chunk.matched
        s.problems += chunk.problems
        self._add_stats(chunk)
        for group, f in chunk.feedback:
            if self.store.add_feedback(group, f):
                s.feedback += 1
                self.touched_groups.add(group)
        self.buffer.extend(chunk.rows)
        self.buffer_texts.update(chunk.texts)
        if len(self.buffer) >= BATCH:
            self.flush()

    def _add_stats(self, chunk: Chunk) -> None:
        for fmt_name, s in chunk.by_format.items():
            stats = self.summary.by_format.setdefault(fmt_name, FormatStats())
            stats.records += s.records
            stats.calls += s.calls
            stats.skipped.update(s.skipped)
            for what, (n, where) in s.missing.items():
                stats.missing.setdefault(what, [0, where])[0] += n
        history = self.matcher.history
        for (name, version), n in chunk.versions.items():
            if name in history and not any(v.startswith(version) for v in history[name]):
                self.unknown_versions[(name, version)] += n

    def finish(self, window: float, *, explicit_window: bool) -> None:
        """What only the whole import decides: Batch joins, late feedback, retries, the counts."""
        s, store, prompt = self.summary, self.store, self.work.forced
        leftover, inputs = self.work.importer.finish()
        joined = Chunk()
        joined.add("batch join", [prepare(t, self.matcher, prompt) for t in leftover.traces], [], [],
                   "openai_batch", record=False)
        self.merge(joined)
        s.problems += leftover.skipped
        s.skipped += len(leftover.skipped)
        self.flush()
        problems = complete_batch_traces(store, inputs, self.matcher, prompt)
        s.problems += problems
        s.skipped += len(problems)
        s.problems += [f"{n} trace(s) name version {v} of prompt '{name}', which is in none of this repo's "
                       "commits (fetch the branch that has it, or they came from another repo)"
                       for (name, v), n in self.unknown_versions.items()]
        self.flush()
        # Feedback imported earlier than its traces (another file, an earlier run) decides them now.
        refresh_verdicts(store, self.matcher, self.touched_groups | store.groups_with_feedback_since(self.first_new))
        # An explicit window looks at every trace again; the configured one only where new traces came.
        mark_retries(store, window, 0 if explicit_window else self.first_new)
        store.commit()
        for source, verdict, n in store.counts_since(self.first_new):
            s.formats[source] += n
            s.verdicts[verdict] += n
