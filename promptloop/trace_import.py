"""``promptloop import``: files in, normalised traces with verdicts in the local store."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Config
from .errors import ConfigError, PromptloopError
from .importers import Importer, Parsed, RecordError, read_records
from .prompts import Prompt, list_prompt_paths, load_prompt
from .redact import has_secret, redact
from .signals import Matcher, decide
from .traces import Trace, TraceStore, store_path

BATCH = 1000


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


def load_matcher(config: Config) -> Matcher:
    prompts: dict[str, Prompt] = {}
    versions: dict[str, str | None] = {}
    for path in list_prompt_paths(config):
        try:
            p = load_prompt(config, str(path))
        except ConfigError:
            continue  # `promptloop validate` reports it; import still works for the others
        prompts[p.name] = p
    try:
        from .commit import blob_id, open_repo, relpath

        repo = open_repo(config.root)
        for name, p in prompts.items():
            versions[name] = blob_id(repo, "HEAD", relpath(repo, p.path))
    except PromptloopError:
        pass
    return Matcher(prompts, versions)


def clean(t: Trace) -> tuple[Trace, str]:
    """Secrets out of everything stored, and the trace's JSON (checked on the serialised form first)."""
    data = t.to_json()
    if has_secret(data):
        t.messages = redact(t.messages)
        t.output = redact(t.output)
        t.inputs = redact(t.inputs)
        t.expected = redact(t.expected)
        t.metadata = redact(t.metadata)
        t.params = redact(t.params)
        for f in t.feedback:
            f.value, f.comment = redact(f.value), redact(f.comment)
        data = t.to_json()
    return t, data


def import_files(config: Config, paths: list[Path], *, fmt: str = "auto", prompt: str | None = None,
                 retry_window: float | None = None) -> ImportSummary:
    matcher = load_matcher(config)
    if prompt is not None and prompt not in matcher.prompts:
        raise ConfigError(f"no prompt '{prompt}' in {config.prompts_dir}")
    window = config.traces["retry_window"] if retry_window is None else retry_window
    summary = ImportSummary()
    importer = Importer(fmt)
    touched_groups: set[str] = set()
    with TraceStore(store_path(config.cache_dir)) as store:
        pending = 0

        def take(parsed: Parsed, where: str) -> None:
            nonlocal pending
            for t in parsed.traces:
                name, inputs = matcher.match(t, prompt)
                if name:
                    t.prompt, t.inputs = name, inputs
                    if t.prompt_version is None and name in matcher.versions and inputs is not None:
                        t.prompt_version = matcher.versions[name]
                    summary.matched += 1 if inputs is not None else 0
                t.verdict, t.reason = decide(t, t.feedback, matcher.prompts.get(t.prompt or ""))
                t, data = clean(t)
                if store.add(t, data):
                    summary.imported += 1
                    summary.formats[t.source] += 1
                    summary.verdicts[t.verdict] += 1
                else:
                    summary.duplicates += 1
            for group, f in parsed.feedback:
                if store.add_feedback(group, redact(f)):
                    summary.feedback += 1
                    touched_groups.add(group)
            for reason in parsed.skipped:
                summary.problems.append(f"{where}: skipped: {reason}")
            pending += 1
            if pending >= BATCH:
                store.commit()  # an interrupted import keeps whole batches; a rerun adds the rest
                pending = 0

        for path in paths:
            if not path.is_file():
                raise ConfigError(f"{path}: no such file")
            for line, record in read_records(path):
                where = f"{path}:{line}"
                if isinstance(record, RecordError):
                    summary.skipped += 1
                    summary.problems.append(f"{where}: {record}")
                    continue
                try:
                    parsed = importer.parse(record)
                except RecordError as e:
                    summary.skipped += 1
                    summary.problems.append(f"{where}: {e}")
                    continue
                take(parsed, where)
        leftover, problems = importer.finish()
        take(leftover, "batch join")
        summary.problems += problems
        summary.skipped += len(problems)
        store.commit()
        refresh_verdicts(store, matcher, touched_groups)
        mark_retries(store, window)
        store.commit()
    return summary


def refresh_verdicts(store: TraceStore, matcher: Matcher, groups: set[str]) -> None:
    """Feedback that arrived apart from its trace (another record or file) decides again."""
    for group in groups:
        for t in store.query(group=group):
            fb = [*t.feedback, *store.feedback_for(group)]
            if not t.expected:
                t.expected = next((f.value for f in fb if f.kind == "correction"), None)
            t.verdict, t.reason = decide(t, fb, matcher.prompts.get(t.prompt or ""))
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
            "matched_to_prompts": s.matched, "formats": dict(s.formats), "verdicts": dict(s.verdicts),
            "problems": s.problems}
