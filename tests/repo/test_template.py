from __future__ import annotations

import pytest

from promptloop.repo.template import TemplateSyntaxError, recover, render, variables


def test_render_inserts_values_literally():
    out = render("Q: {{ q }} / {{q}}", {"q": "{{secret}} {0.__class__}"})
    assert out == "Q: {{secret}} {0.__class__} / {{secret}} {0.__class__}"


def test_render_non_strings_as_json():
    assert render("{{x}}", {"x": {"b": 1, "a": [1]}}) == '{"a": [1], "b": 1}'


@pytest.mark.parametrize("bad", ["{{ a.b }}", "{{a|upper}}", "{{ f() }}", "{{}}", "{{a + b}}"])
def test_only_plain_variables(bad):
    with pytest.raises(TemplateSyntaxError):
        variables(f"x {bad}")


def test_variables_in_order_once():
    assert variables("{{b}} {{a}} {{b}}") == ["b", "a"]


def test_recover_inverts_render():
    template = "Question: {{question}}\nContext: {{ctx}}\nAgain: {{question}}"
    values = {"question": "Who? (really)", "ctx": "a.b*c"}
    assert recover(template, render(template, values)) == values
    assert recover(template, "something else") is None
