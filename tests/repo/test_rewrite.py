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


# ---------------------------------------------------------------- property test over YAML layouts
import json  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from promptloop.repo.rewrite import _Item  # noqa: E402

WORDS = st.sampled_from(["Classify", "the", "item", "Answer", "A", "or", "B", "{{q}}", "Item:", "please", "x1"])
SIMPLE = st.lists(WORDS, min_size=1, max_size=6).map(" ".join)
MULTI = st.lists(SIMPLE, min_size=2, max_size=4).map("\n".join)
WILD = st.text(st.sampled_from(list("ab :#'\"\\\n\t-{}[],|>?&*!%@`ü✓ ")), max_size=30) | SIMPLE | MULTI


def render_scalar(text: str, style: str, indent: int, nl: str) -> str:
    if style == "literal" and "\n" in text:
        return "|-" + nl + nl.join(" " * indent + ln for ln in text.split("\n"))
    if style == "folded" and "\n" not in text:
        return ">-" + nl + " " * indent + text
    if style == "single" and "\n" not in text:
        return "'" + text.replace("'", "''") + "'"
    if style == "plain" and "\n" not in text and ":" not in text and "{" not in text and not text.startswith(
            ("A ", "B ")) and text not in ("A", "B"):
        return text
    return json.dumps(text)


@st.composite
def prompt_files(draw):
    n = draw(st.integers(1, 4))
    msgs = [{"role": draw(st.sampled_from(["system", "user", "assistant"])), "content": draw(SIMPLE | MULTI)}
            for _ in range(n)]
    layout = draw(st.sampled_from(["indented", "indentless", "flow", "flow-items"]))
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    comments = draw(st.booleans())
    out = ["# top comment", "description: A prompt.   # trailing", "inputs: [q]", "messages:"]
    if layout == "flow":
        out[-1] = "messages: [" + ", ".join(
            "{{role: {}, content: {}}}".format(m["role"], json.dumps(m["content"])) for m in msgs) + "]"
    else:
        dash = "  - " if layout == "indented" else "- "
        key = " " * len(dash)
        if comments:
            out.append(key[:-2] + "# a comment inside messages")
        for i, m in enumerate(msgs):
            if layout == "flow-items":
                out.append(f"{dash}{{role: {m['role']}, content: {json.dumps(m['content'])}}}")
            else:
                style = draw(st.sampled_from(["plain", "single", "double", "literal", "folded"]))
                out.append(f"{dash}role: {m['role']}")
                if comments and i % 2:
                    out.append(f"{key}# a comment between keys")
                out.append(f"{key}content: {render_scalar(m['content'], style, len(key) + 2, nl)}")
            if comments:
                out.append(f"{key[:-2]}# after item {i}")
    out += ["", "# before assertions", "assertions:", "  - type: label", "    value: [A, B]"]
    return nl.join(out) + nl, msgs


@st.composite
def edits(draw, msgs):
    new = []
    for m in msgs:
        op = draw(st.sampled_from(["keep", "keep", "change", "drop", "insert"]))
        if op == "keep":
            new.append(dict(m))
        elif op == "change":
            new.append({"role": m["role"], "content": draw(WILD)})
        elif op == "insert":
            new += [{"role": "user", "content": draw(WILD)}, {"role": "assistant", "content": draw(WILD)}, dict(m)]
    if draw(st.booleans()) or not new:
        new.append({"role": "user", "content": draw(WILD)})
    return new


def outside(text: str) -> tuple[str, str]:
    """The bytes before and after the messages list, which a rewrite must never touch."""
    seq = next(v for k, v in yaml.compose(text).value if k.value == "messages")
    if seq.flow_style:
        return text[:seq.start_mark.index], text[seq.end_mark.index:]
    first, last = _Item(text, seq.value[0]), _Item(text, seq.value[-1])
    return text[:first.start], text[last.end:]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_layout_round_trips_and_nothing_outside_changes(data):
    text, msgs = data.draw(prompt_files())
    assert yaml.safe_load(text)["messages"] == msgs  # the generator writes what it means
    new = data.draw(edits(msgs))
    out = replace_messages(text, new)
    assert yaml.safe_load(out)["messages"] == new
    before, after = outside(text)
    assert out.startswith(before) and out.endswith(after)
    if "\r\n" in text:
        assert "\n" not in out.replace("\r\n", "")  # line ends stay CRLF
    if new == msgs:
        assert out == text


def test_pyyaml_written_file_and_comments_inside_messages():
    text = yaml.safe_dump({"description": "d", "inputs": ["q"], "messages": [
        {"role": "system", "content": "Classify the item."}, {"role": "user", "content": "Item: {{q}}"}]},
        sort_keys=False)
    assert "\n- role: system" in text  # PyYAML's indentless sequence
    msgs = [{"role": "system", "content": "Classify.\nAnswer A or B.\n"}, {"role": "user", "content": "x"},
            {"role": "assistant", "content": "A"}, {"role": "user", "content": "Item: {{q}}"}]
    assert yaml.safe_load(replace_messages(text, msgs))["messages"] == msgs
    out = replace_messages(ORIGINAL, msgs)
    assert "# comment inside messages" in out


def test_a_file_that_cannot_be_rewritten_is_a_config_error():
    import pytest

    from promptloop.errors import ConfigError

    with pytest.raises(ConfigError):
        replace_messages("description: no messages here\n", [{"role": "user", "content": "x"}])


def test_demonstration_turns_carry_their_case_id_into_the_file():
    msgs = [{"role": "system", "content": "Classify."},
            {"role": "user", "content": "Q: one", "example": "c1"},
            {"role": "assistant", "content": "A", "example": "c1"},
            {"role": "user", "content": "Q: {{q}}"}]
    out = replace_messages(ORIGINAL, msgs)
    assert yaml.safe_load(out)["messages"] == msgs and "    example: c1\n" in out
    back = replace_messages(out, [msgs[0], msgs[3]])  # the demonstrations removed again
    assert yaml.safe_load(back)["messages"] == [msgs[0], msgs[3]] and "example" not in back


def test_tool_descriptions_change_and_nothing_else():
    from promptloop.repo.rewrite import set_tool_descriptions

    text = ("tools:  # the app's tools\r\n"
            "  - type: function\r\n    function:\r\n      name: a\r\n      description: |\r\n        Old a.\r\n"
            "        Second line.\r\n      parameters: {type: object}\r\n"
            "  - {type: function, function: {name: b, description: 'Old b', parameters: {type: object}}}\r\n"
            "  - {type: function, function: {name: c, parameters: {type: object}}}\r\n"
            "  - type: function\r\n    function:\r\n      name: d  # keep\r\n      parameters: {type: object}\r\n")
    new = {"a": "New a.\nWith two lines.\n", "b": "New b: with a colon", "c": "yes", "d": "New d."}
    out = set_tool_descriptions(text, new)
    assert {t["function"]["name"]: t["function"]["description"] for t in yaml.safe_load(out)["tools"]} == new
    assert out.startswith("tools:  # the app's tools\r\n") and "\n" not in out.replace("\r\n", "")
    assert "      name: d  # keep\r\n      description: New d.\r\n" in out
    assert set_tool_descriptions(text, {}) == text
