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
