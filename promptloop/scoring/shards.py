"""Sharded evaluation: which cases a shard I/N of a golden set holds (merging is :mod:`merge`'s job).

A case's shard is a hash of its id, so adding cases moves few others.
"""

from __future__ import annotations

import hashlib
from typing import Any

from promptloop.errors import UsageError
from promptloop.repo.prompts import Case

Shard = tuple[int, int]


def parse_shard(text: str) -> Shard:
    """``I/N`` (1 <= I <= N) into (I, N)."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard {text}: write it as I/N, e.g. 2/4") from None
    if not 1 <= i <= n:
        raise UsageError(f"--shard {text}: I must be between 1 and N")
    return i, n


def shard_of(case_id: str, n: int) -> int:
    return int(hashlib.sha256(case_id.encode("utf-8")).hexdigest()[:12], 16) % n + 1


def select(cases: list[Case], shard: Shard | None) -> list[Case]:
    if shard is None:
        return cases
    i, n = shard
    return [c for c in cases if shard_of(c.id, n) == i]


def check_whole(shards: list[Shard]) -> None:
    """Shard reports that make one whole run: each I/N for I = 1..N exactly once. A missing shard could
    hide the very cases that fail, so anything less is refused."""
    sizes = {n for _, n in shards}
    if len(sizes) != 1 or sorted(i for i, _ in shards) != list(range(1, next(iter(sizes)) + 1)):
        raise UsageError(f"shards {', '.join(f'{i}/{n}' for i, n in shards)} do not make one whole run; merge "
                         "every shard I/N for I = 1..N exactly once")


def shard_of_report(doc: dict[str, Any]) -> Shard | None:
    """The I/N a shard's JSON report says it holds (eval or regress), None for an unsharded report."""
    shard = doc.get("shard")
    if not shard:
        return None
    try:
        i, n = (int(x) for x in shard)
    except (TypeError, ValueError):
        raise UsageError(f"a report's shard {shard!r} is not I/N; write shards with --shard I/N --json") from None
    return i, n
