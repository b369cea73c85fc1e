"""Secrets (and, where asked, personal data) out of everything promptloop stores, prints or commits.

Ground floor: errors, the model layer, the trace store, reports and golden files all use it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterator
from typing import Any

# A key may sit right after '=' (also URL-encoded as %3D), '_' or any non-alphanumeric character:
# "OPENAI_KEY_sk-...", "token%3Dsk-...", "key=sk-...".
_START = r"(?:(?<![A-Za-z0-9])|(?<=%3[Dd])|(?<=_))"
_JWT = _START + r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"
# Keys recognisable by their shape, each with the (lower-case) text every match starts with.
SHAPES: list[tuple[tuple[str, ...], str]] = [
    (("sk-",), _START + r"sk-(?:proj-|ant-(?:api\d+-)?|lf-)?[A-Za-z0-9_\-]{16,}"),  # OpenAI, Anthropic, Langfuse
    (("pk-lf-",), _START + r"pk-lf-[A-Za-z0-9\-]{8,}"),                              # Langfuse public keys
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
     _START + r"(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{20,}"),                         # GitHub tokens
    (("xox",), _START + r"xox[abprs]-[A-Za-z0-9\-]{10,}"),                            # Slack tokens
    (("akia",), r"(?i:" + _START + r"akia[0-9a-z]{16}(?![A-Za-z0-9]))"),              # AWS key ids, any case
    (("aiza",), _START + r"AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9])"),                   # Google API keys
    (("eyj",), _JWT),                                                                 # JWTs
    (("bearer",), r"(?i:\bbearer\s+[A-Za-z0-9._~+/\-]{12,}=*)"),                      # Authorization: Bearer
]
_URL_CREDENTIALS = r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"                                 # user:password@ in URLs
# name=value, name: value, "name": "value" and URL-encoded name%3Dvalue, for names that say secret. Found by
# the keyword and masked from the start of the name: one regex holding the whole name retried from every
# position of a long word, and was quadratic (9 s for one 16 kB word after "token").
_KEYWORDS = ("api", "access", "secret", "token", "passw", "credential")
_KEYWORD = re.compile(r"api[_-]?key|apikey|access[_-]?key|secret|token|password|passwd|credential")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_NAME_REST = re.compile(r"[A-Za-z0-9_\-]*")
_VALUE = re.compile(r"[\"']?\s*(?:[:=]|%3[Dd])\s*[\"']?[^\s\"',}&]{8,}")

_SHAPE_RES = [(hints, re.compile(p)) for hints, p in SHAPES]
_JWT_RE = re.compile(_JWT)
_START_RE = re.compile(_START)
_URL_RE = re.compile(_URL_CREDENTIALS)
_ANY_SHAPE = re.compile("|".join(f"(?:{p})" for _, p in SHAPES) + f"|(?:{_URL_CREDENTIALS})")
MASK = "[REDACTED]"

# Every secret contains one of these (lower-cased); a plain substring scan rules most text out far faster
# than any regex can (measured: a regex over every position was a third of import time).
HINTS = (*(h for hints, _ in SHAPES for h in hints), *_KEYWORDS, "://")
# Hints that hold "-" or "_" are looked for only in text that has one: a one-character search is a memchr,
# many times faster than a search for a word (measured: 9 of the 20 word searches skipped in most traces).
_PLAIN_HINTS = tuple(h for h in HINTS if "-" not in h and "_" not in h)
_DASH_HINTS = tuple(h for h in HINTS if "-" in h)
_UNDERSCORE_HINTS = tuple(h for h in HINTS if "_" in h and "-" not in h)


def _hinted(low: str) -> bool:
    return (any(map(low.__contains__, _PLAIN_HINTS)) or ("-" in low and any(map(low.__contains__, _DASH_HINTS)))
            or ("_" in low and any(map(low.__contains__, _UNDERSCORE_HINTS))))


def _ascii_lower(text: str) -> str:
    """Lower-case of the same length as ``text`` (str.lower may lengthen a few letters: 'İ')."""
    low = text.lower()
    return low if len(low) == len(text) else "".join(c.lower() if c.isascii() else c for c in text)


def _occurrences(low: str, hint: str) -> Iterator[int]:
    i = low.find(hint)
    while i >= 0:
        yield i
        i = low.find(hint, i + 1)


def _run_end(text: str, pos: int) -> int:
    m = _NAME_REST.match(text, pos)
    return m.end() if m else pos  # it matches the empty run too: never None


def _named_secrets(text: str, low: str) -> Iterator[tuple[int, int]]:
    """Spans of name=value secrets (name from its start), in order and apart; linear in ``text``."""
    skip = floor = 0  # keywords before `skip` are settled; names never start before `floor`
    for i in sorted(i for kw in _KEYWORDS for i in _occurrences(low, kw)):
        kw = _KEYWORD.match(low, i) if i >= skip else None
        if kw is None:
            continue
        end = _run_end(text, kw.end())
        value = _VALUE.match(text, end)
        if value is None:
            skip = end  # a later keyword in the same name has the same end, and fails the same way
            continue
        start = i
        while start > floor and text[start - 1] in _NAME_CHARS:
            start -= 1
        yield start, value.end()
        skip = floor = value.end()


def _shaped(text: str, low: str) -> bool:
    for hints, pattern in _SHAPE_RES:
        for hint in hints:
            skip_to = 0
            for i in _occurrences(low, hint):
                if i < skip_to:
                    continue
                if pattern.match(text, i):
                    return True
                if pattern is _JWT_RE and _START_RE.match(text, i):
                    # A later "eyJ" inside the same run of key characters would match only if this one had.
                    skip_to = _run_end(text, i)
    return any(_URL_RE.match(text, i + 3) for i in _occurrences(low, "://"))


def has_secret(text: str) -> bool:
    low = text.lower()
    if not _hinted(low):
        return False
    low = _ascii_lower(text) if len(low) != len(text) else low
    return _shaped(text, low) or next(_named_secrets(text, low), None) is not None


def redact_text(text: str) -> str:
    if not has_secret(text):
        return text
    text = _ANY_SHAPE.sub(MASK, text)
    out, pos = [], 0
    for start, end in _named_secrets(text, _ascii_lower(text)):
        out += [text[pos:start], MASK]
        pos = end
    return "".join([*out, text[pos:]])


def redact(value: Any) -> Any:
    """``value`` with every secret-looking string masked: dicts (keys too), lists and dataclasses walked."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {redact_text(k) if isinstance(k, str) else k: redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: redact(getattr(value, f.name))
                                             for f in dataclasses.fields(value) if f.init})
    return value


# ---------------------------------------------------------------- personal data
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Phone numbers as people write them: an international prefix, or at least two separated groups.
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){1,3}"
                   r"|\(\d{2,4}\)[\s.-]?\d{3,4}[\s.-]\d{3,4}|\d{3}[.-]\d{3,4}[.-]\d{4})(?!\w)")
PERSONAL = {"email": (EMAIL, "[EMAIL]"), "phone": (PHONE, "[PHONE]")}


# Every phone number lies in a run of 9+ digits and separators (after its "+" or "("): a simple scan finds
# the runs and PHONE runs only on them. Over ASCII text (most text; isascii() is free) the run pattern is
# written with [0-9], which the regex engine scans for five times faster than \d.
_PHONE_RUN = re.compile(r"\d[\d\s().-]{7,}\d")
_PHONE_RUN_ASCII = re.compile(r"[0-9][0-9\s().-]{7,}[0-9]")


# Over ASCII text, one C pass (bytes.translate) marks the run characters, and a text with no nine of them
# in a row, which is most text, is done without the regex engine. (The regex engine starts an attempt at
# every digit: in text full of numbers, a table or a log, that was more than half of the import's time.)
_RUN_TABLE = bytes(0x31 if chr(i).isdigit() or chr(i).isspace() or chr(i) in "().-" else 0x30 for i in range(256))
_NINE = b"1" * 9


def has_phone(text: str) -> bool:
    if text.isascii():
        if _NINE not in text.encode("ascii").translate(_RUN_TABLE):
            return False
        runs = _PHONE_RUN_ASCII
    else:
        runs = _PHONE_RUN
    for run in runs.finditer(text):
        # One character either side: the "+" or "(" a number starts with, and what its lookarounds see.
        if PHONE.search(text, max(run.start() - 1, 0), run.end() + 1) is not None:
            return True
    return False


def has_personal_data(text: str) -> bool:
    return ("@" in text and EMAIL.search(text) is not None) or has_phone(text)


def mask_personal(value: Any, found: dict[str, int] | None = None) -> Any:
    """``value`` with e-mail addresses and phone numbers masked; counts what was masked into ``found``."""
    if isinstance(value, str):
        for kind, (pattern, mask) in PERSONAL.items():
            value, n = pattern.subn(mask, value)
            if n and found is not None:
                found[kind] = found.get(kind, 0) + n
        return value
    if isinstance(value, dict):
        return {k: mask_personal(v, found) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_personal(v, found) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: mask_personal(getattr(value, f.name), found)
                                             for f in dataclasses.fields(value) if f.init})
    return value


def pseudonym(value: str | None, key: bytes) -> str | None:
    """An id that is an e-mail address or a phone number as a stable pseudonym (``person-<hash>``): the same
    person keeps one id (so asking again is still seen as such) without the address being stored. ``key`` is
    secret to the store (see ``traces.verdicts.pseudonym_key``): without it, hashing guessed addresses cannot
    tell whose id is whose."""
    if not value or not has_personal_data(value):
        return value
    return "person-" + hashlib.blake2b(value.strip().casefold().encode(), key=key, digest_size=8).hexdigest()


# Control characters (C0 but tab and newline, DEL, C1) and lone surrogates: an ESC from a model's answer must
# not drive the user's terminal, and XML 1.0 cannot hold most of them at all.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def visible(text: str) -> str:
    """``text`` with every control character written out (``\\x1b``): safe for a terminal, XML and Markdown."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)


_MD = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "`": "\\`", "\n": " ", "\r": " "})


def markdown_text(value: Any) -> str:
    """Untrusted text for a Markdown report or PR comment: no HTML (``<script>``, ``<img onerror>``), nothing
    that closes a table cell or a code span, no control characters."""
    return visible(value if isinstance(value, str) else str(value)).translate(_MD)
