import re

import pytest

from promptloop.masking import redact, redact_text


@pytest.mark.parametrize("secret", [
    "sk-proj-abcdefghijklmnopqrstuvwxyz0123", "sk-ant-api03-abcdefghijklmnopqrstuv", "sk-abcdefghijklmnopqrstuvwx",
    "pk-lf-5855d85e-3943-497e-bd10-f50ad414bcba", "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "AKIAABCDEFGHIJKLMNOP", "eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.SflKxwRJSMeKKF2QT4fw",
])
def test_secrets_masked(secret):
    out = redact_text(f"my key is {secret} ok")
    assert secret not in out and "[REDACTED]" in out and out.startswith("my key is ")


def test_headers_and_assignments():
    assert "abc123def456ghi" not in redact_text("Authorization: Bearer abc123def456ghi789")
    assert "hunter2hunter2" not in redact_text('{"api_key": "hunter2hunter2"}')


def test_plain_text_untouched_and_structures_walked():
    text = "Skiing is fun; the task-list has 12 items."
    assert redact_text(text) == text
    assert redact({"a": ["x sk-abcdefghijklmnopqrstuvwx"], "n": 1}) == {"a": ["x [REDACTED]"], "n": 1}


# ---------------------------------------------------------------- the fast phone scan finds what PHONE finds
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from promptloop.masking import PHONE, has_phone  # noqa: E402

PHONE_LIKE = st.text(alphabet="0123456789 +-.()x_\n٣", max_size=40)


@settings(max_examples=3000, deadline=None)
@given(PHONE_LIKE)
def test_has_phone_agrees_with_the_full_pattern(text):
    # Sound: only what PHONE matches. Complete for numbers of nine or more digits and separators (shorter
    # "+00000"-like runs were never taken for phone numbers).
    found = PHONE.search(text)
    if has_phone(text):
        assert found is not None
    if found is not None and len(found.group().lstrip("+(")) >= 9:
        assert has_phone(text)


@pytest.mark.parametrize("text", ["call +44 (20) 7946 0958 now", "(555) 123-4567", "555.123.4567", "x +1 212 555 0100",
                                  "٣٣٣-٣٣٣-٣٣٣٣"])
def test_phone_numbers_found(text):
    assert has_phone(text)


def test_text_full_of_numbers_is_not_a_phone_number_until_one_is_in_it():
    table = " ".join(f"w{n} {n % 97}.{n % 7}" for n in range(2000))  # a table, a log: digits everywhere
    assert not has_phone(table) and PHONE.search(table) is None
    assert has_phone(table + " call (555) 123-4567") and has_phone("(555) 123-4567 " + table)


@pytest.mark.parametrize("text", ["2026-01-05 10:00:00", "version 1.2.3", "ab555.123.4567", "id 123456789012345x"])
def test_things_that_are_not_phone_numbers(text):
    assert not has_phone(text) and PHONE.search(text) is None


# ---------------------------------------------------------------- the linear scan finds what one big regex found
_S = r"(?:(?<![A-Za-z0-9])|(?<=%3[Dd])|(?<=_))"
ONE_REGEX = re.compile("|".join(f"(?:{p})" for p in [  # the patterns as one alternation (quadratic on long words)
    _S + r"sk-(?:proj-|ant-(?:api\d+-)?|lf-)?[A-Za-z0-9_\-]{16,}", _S + r"pk-lf-[A-Za-z0-9\-]{8,}",
    _S + r"(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{20,}", _S + r"xox[abprs]-[A-Za-z0-9\-]{10,}",
    r"(?i:" + _S + r"akia[0-9a-z]{16}(?![A-Za-z0-9]))", _S + r"AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9])",
    _S + r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}", r"(?i:\bbearer\s+[A-Za-z0-9._~+/\-]{12,}=*)",
    r"(?i:[A-Za-z0-9_.\-]*(?:api[_-]?key|apikey|access[_-]?key|secret|token|password|passwd|credential)"
    r"[A-Za-z0-9_\-]*[\"']?\s*(?:[:=]|%3[Dd])\s*[\"']?[^\s\"',}&]{8,})", r"(?i:(?<=://)[^/\s:@]+:[^/\s@]+(?=@))"]))
PIECES = ["sk-", "proj-", "pk-lf-", "ghp_", "github_pat_", "xoxb-", "AKIA", "akia", "AIza", "eyJ", "Bearer ", "bearer",
          "token", "API_KEY", "apikey", "access-key", "Secret", "passwd", "credential", "://", "@", ":", "=", "%3D",
          "\"", "'", " ", "\n", ",", "}", "&", ".", "_", "-", "/", "a", "Zz9", "abcdefgh", "0123456789ABCDEF"]
SECRETISH = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)


@settings(max_examples=4000, deadline=None)
@given(SECRETISH)
def test_secret_scan_agrees_with_the_one_regex_and_masks_all_it_finds(text):
    from promptloop.masking import MASK, has_secret

    assert has_secret(text) == (ONE_REGEX.search(text) is not None)
    out = redact_text(text)
    masks = [(m.start(), m.end()) for m in re.finditer(re.escape(MASK), out)]
    for found in ONE_REGEX.finditer(out):  # what still looks secret touches a mask (e.g. "token=[REDACTED]")
        assert any(found.start() <= end and start <= found.end() for start, end in masks), (text, out)


def test_secrets_after_letters_whose_lower_case_is_longer():
    # "İ".lower() is two characters: positions found in the lower-cased text must still fit the text.
    assert redact_text("İİ token=abcdefghijkl İ sk-abcdefghijklmnopqrstuv") == "İİ [REDACTED] İ [REDACTED]"
