"""One call, ready to store: the prompt it names, secrets and personal data masked, the prompt that
rendered it (with its variables), a verdict, and its store row."""

from __future__ import annotations

import functools
from typing import Any

from promptloop import codec
from promptloop.masking import has_personal_data, has_secret, mask_personal, pseudonym, redact, redact_text
from promptloop.traces.store import LONG_TEXT, Texts, Trace, encode, row_of
from promptloop.traces.verdicts import Matcher, decide

CONTENT = ("messages", "output", "inputs", "expected", "metadata", "params", "feedback", "tools")
IDS = ("session_id", "user_id", "group", "id")
Row = tuple[Any, ...]
# A store row, inputs recovered, what it lacks ("input", "output"), the long texts its row refers to.
Prepared = tuple[Row, bool, tuple[str, ...], Texts]


# Few distinct prompts repeat; unique long texts (retrieved context) only pass through: 256 keeps memory small.
@functools.lru_cache(maxsize=256)
def _text_flags(text: str) -> tuple[bool, bool]:
    return has_secret(text), has_personal_data(text)


# Verdict reasons repeat ("thumbs up", "passes label"): each distinct one is checked for secrets once.
_redacted_reason = functools.lru_cache(maxsize=4096)(redact_text)


def clean(t: Trace, *, keep_personal_data: bool = False, key: bytes = b"") -> Trace:
    """Secrets out of everything that will be stored (content and ids), and e-mail addresses and phone
    numbers out of the content unless asked to keep them; checked on the serialised form first (most
    traces hold none, and the checks are cheap substring scans before any regex runs). Long message
    texts are checked one by one and remembered: a system prompt repeated in every trace is scanned once."""
    long_texts: list[str] = []
    messages: list[Any] = []
    for m in t.messages:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, str) and len(content) >= LONG_TEXT:
            long_texts.append(content)
            messages.append({k: v for k, v in m.items() if k != "content"})
        else:
            messages.append(m)
    # One dump of the content and the ids (ids are checked for secrets; personal data found only in an id
    # costs a masking pass over the content that finds nothing).
    dump = codec.dumps([messages, t.output, t.inputs, t.expected, t.metadata, t.params, t.feedback, t.tools,
                        t.session_id, t.user_id, t.group, t.id])
    flags = [_text_flags(text) for text in long_texts]
    if any(secret for secret, _ in flags) or has_secret(dump):
        for k in (*CONTENT, *IDS):
            setattr(t, k, redact(getattr(t, k)))
    if not keep_personal_data and (any(personal for _, personal in flags) or has_personal_data(dump)):
        for k in ("messages", "output", "inputs", "expected", "metadata", "feedback", "tools"):
            setattr(t, k, mask_personal(getattr(t, k)))
        t.user_id, t.session_id = pseudonym(t.user_id, key), pseudonym(t.session_id, key)
    return t


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


def prepare(t: Trace, matcher: Matcher, forced: str | None) -> Prepared:
    """Match, judge and clean one trace; returns its store row and whether its variables were recovered."""
    named_in_metadata(t)
    # Before matching and judging, so that no reason or recovered input quotes a secret.
    t = clean(t, keep_personal_data=matcher.keep_personal_data, key=matcher.pseudonym_key)
    name, inputs = matcher.match(t, forced)
    matched = False
    if name:
        t.prompt, t.inputs = name, inputs
        if t.prompt_version is None and name in matcher.versions and inputs is not None:
            t.prompt_version = matcher.versions[name]
        matched = inputs is not None
    t.verdict, t.reason = decide(t, t.feedback, matcher.prompts.get(t.prompt or ""))
    t.reason = _redacted_reason(t.reason)  # a reason may quote a correction: personal data masked there too
    t.reason = t.reason if matcher.keep_personal_data else mask_personal(t.reason)
    missing = tuple(x for x, gone in (("input", not t.messages), ("output", t.output is None)) if gone)
    data, texts = encode(t)
    return row_of(t, data), matched, missing, texts
