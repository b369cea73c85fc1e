"""Sharded evaluation: which cases a shard I/N of a golden set holds (merging is :mod:`merge`'s job).

A case's shard is a hash of its id, so adding cases moves few others.
"""

from __future__ import annotations

import hashlib

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
