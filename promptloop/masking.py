"""Secrets (and, where asked, personal data) out of everything promptloop stores, prints or commits.

Ground floor: errors, the model layer, the trace store, reports and golden files all use it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

# A key may sit right after '=' (also URL-encoded as %3D), '_' or any non-alphanumeric character:
# "OPENAI_KEY_sk-...", "token%3Dsk-...", "key=sk-...".
_START = r"(?:(?<![A-Za-z0-9])|(?<=%3[Dd])|(?<=_))"
# Anchored at the start of the name: unanchored, the leading class retried from every position of a long
# word (quadratic: 9 s for one 16 kB word after "token").
_NAME = r"(?<![A-Za-z0-9_.\-])[A-Za-z0-9_.\-]*" \
    r"(?:api[_-]?key|apikey|access[_-]?key|secret|token|password|passwd|credential)[A-Za-z0-9_\-]*"
PATTERNS = [
    _START + r"sk-(?:proj-|ant-(?:api\d+-)?|lf-)?[A-Za-z0-9_\-]{16,}",  # OpenAI, Anthropic, Langfuse secret keys
    _START + r"pk-lf-[A-Za-z0-9\-]{8,}",                                # Langfuse public keys
    _START + r"(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{20,}",             # GitHub tokens
    _START + r"xox[abprs]-[A-Za-z0-9\-]{10,}",                          # Slack tokens
    r"(?i:" + _START + r"akia[0-9a-z]{16}(?![A-Za-z0-9]))",             # AWS access key ids, any case
    _START + r"AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9])",                  # Google API keys
    _START + r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",  # JWTs
    r"(?i:\bbearer\s+[A-Za-z0-9._~+/\-]{12,}=*)",                       # Authorization: Bearer ...
    # name=value, name: value, "name": "value" and URL-encoded name%3Dvalue, for names that say secret
    r"(?i:" + _NAME + r"[\"']?\s*(?:[:=]|%3[Dd])\s*[\"']?[^\s\"',}&]{8,})",
    r"(?i:(?<=://)[^/\s:@]+:[^/\s@]+(?=@))",                            # user:password@ in URLs
]
SECRET = re.compile("|".join(f"(?:{p})" for p in PATTERNS))
MASK = "[REDACTED]"

# Every pattern above contains one of these (lower-cased); a plain substring scan rules most text out
# far faster than the regex can (measured: the regex alone was a third of import time).
HINTS = ("sk-", "pk-lf-", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox", "akia", "aiza", "eyj",
         "bearer", "api_key", "api-key", "apikey", "access_key", "access-key", "secret", "token", "password",
         "passwd", "credential", "://")


def has_secret(text: str) -> bool:
    low = text.lower()
    if not any(map(low.__contains__, HINTS)):
        return False
    return SECRET.search(text) is not None


def redact_text(text: str) -> str:
    return SECRET.sub(MASK, text) if has_secret(text) else text


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


# Every phone number is a run of 9+ digits and separators; this simple scan rules most text out fast.
_PHONE_RUN = re.compile(r"[+(]?\d[\d\s().-]{7,}\d")


def has_personal_data(text: str) -> bool:
    return ("@" in text and EMAIL.search(text) is not None) or (
        _PHONE_RUN.search(text) is not None and PHONE.search(text) is not None)


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
