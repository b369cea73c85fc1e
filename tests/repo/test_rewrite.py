import yaml

from promptloop.repo.rewrite import replace_messages

ORIGINAL = """\
# A comment at the top
description: Classify.   # trailing comment
model:
  temperature: 0
inputs: [q]
messages:
  # comment inside messages
  - role: system
    content: |
      Old instructions.
      Second line.
  - role: user
    content: "Q: {{q}}"

# comment before assertions
assertions:
  - type: label
    value: [A, B]
"""


def test_only_messages_change():
    msgs = [{"role": "system", "content": "New instructions.\nAnswer A or B.\n"},
            {"role": "user", "content": "Example"}, {"role": "assistant", "content": "A"},
            {"role": "user", "content": "Q: {{q}}"}]
    new = replace_messages(ORIGINAL, msgs)
    assert yaml.safe_load(new)["messages"] == msgs
    assert new.startswith("# A comment at the top\ndescription: Classify.   # trailing comment\n")
    assert new.endswith("\n# comment before assertions\nassertions:\n  - type: label\n    value: [A, B]\n")
    assert "      New instructions.\n      Answer A or B.\n" in new


def test_awkward_strings_round_trip():
    for content in ["  leading spaces\nx", "no newline\nat end", "trailing\n\n\n", "tab\there", "a: b # c",
                    "", "yes", "'quoted'", "ünïcode ✓", "{{q}}"]:
        msgs = [{"role": "user", "content": content}]
        assert yaml.safe_load(replace_messages(ORIGINAL, msgs))["messages"] == msgs
