"""Import's record-level work, the same in this process and in worker processes: records in, store rows
(masked, matched to their prompt, judged) out, added up per block. ``flows/ingest.py`` drives it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptloop.errors import ConfigError, PromptloopError
from promptloop.masking import mask_personal, redact
from promptloop.repo.config import Config
from promptloop.repo.prompts import Prompt, list_prompt_paths, load_prompt
from promptloop.traces.formats import Importer, RecordError, detect
from promptloop.traces.prepare import Prepared, Row, prepare
from promptloop.traces.reading import block_lines, parse_line
from promptloop.traces.store import ROW_PROMPT, ROW_VERSION, Texts, pack_rows
from promptloop.traces.verdicts import Matcher, pseudonym_key

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
    return Matcher(prompts, versions, history, keep_personal_data=bool(config.traces.get("keep_personal_data")),
                   pseudonym_key=pseudonym_key(config.cache_dir))




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
            if row[ROW_VERSION]:
                self.versions[(row[ROW_PROMPT], row[ROW_VERSION])] += 1
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
            personal = (lambda f: f) if self.matcher.keep_personal_data else mask_personal
            feedback = [(redact(g), personal(redact(f))) for g, f in parsed.feedback]
            return rows, feedback, parsed.skipped, self.importer.last
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


def init_worker(root: str, fmt: str, forced: str | None) -> None:
    global _worker
    from promptloop.repo.config import load_config

    _worker = Work(load_matcher(load_config(Path(root)), history_too=False), Importer(fmt), forced)


def work_block(path: str, first: int, data: bytes) -> Chunk:
    assert _worker is not None
    return _worker.block(path, first, data).pack()


def work_range(path: str, first: int, start: int, length: int, tail: bytes) -> Chunk:
    """A block of a plain (not gzip) file, read here from the file: the writing process only finds the
    blocks' bounds and line numbers, and sends no trace bytes through the pipe (measured: sending each
    block was a twentieth of the import's CPU)."""
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(length)
    if len(data) != length or not data.endswith(tail):
        raise OSError(f"the file changed while it was being imported (at byte {start})")
    return work_block(path, first, data)


def is_jsonl(path: Path) -> bool:
    return path.name.lower().removesuffix(".gz").endswith(".jsonl")


def summary_dict(s: ImportSummary) -> dict[str, Any]:
    return {"imported": s.imported, "duplicates": s.duplicates, "skipped": s.skipped, "feedback": s.feedback,
            "records_read": s.records, "files_failed": s.files_failed,
            "matched_to_prompts": s.matched, "formats": dict(s.formats), "verdicts": dict(s.verdicts),
            "by_format": {k: {"records": v.records, "calls": v.calls, "skipped": dict(v.skipped),
                              "calls_without": {w: {"count": n, "first_at": at} for w, (n, at) in v.missing.items()}}
                          for k, v in s.by_format.items()},
            "problems": s.problems}
