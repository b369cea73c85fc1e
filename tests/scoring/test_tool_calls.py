"""Tool-calling prompts end to end against an OpenAI-compatible server that answers with tool calls."""

from __future__ import annotations

import asyncio
import json

import pytest

from promptloop.cli import app
from promptloop.errors import ConfigError
from promptloop.repo.config import load_config
from promptloop.repo.prompts import load_prompt
from promptloop.testing import FakeServer
from tests.conftest import point_at

PROMPT = """\
description: Answer weather questions with the tools.
inputs: [question, history]
messages:
  - role: system
    content: You answer weather questions. Call a tool when you need data.
  - placeholder: history
  - role: user
    content: "{{question}}"
tools:
  - type: function
    function:
      name: get_weather
      description: The current weather in a city.
      parameters:
        type: object
        properties:
          city: {type: string}
          unit: {type: string, enum: [celsius, fahrenheit]}
        required: [city]
  - type: function
    function:
      name: get_time
      description: The local time in a city.
      parameters: {type: object, properties: {city: {type: string}}, required: [city]}
tool_choice: auto
"""

GOLDEN = """\
cases:
  - id: right
    inputs: {question: "Weather in Paris?", history: []}
    expected: {tool_calls: [{name: get_weather, arguments: {city: Paris, unit: {one_of: [celsius], optional: true}}}]}
  - id: wrong-args
    inputs: {question: "Weather in Lyon?", history: []}
    expected: {tool_calls: [{name: get_weather, arguments: {city: Lyon}}]}
  - id: wrong-tool
    inputs: {question: "Weather in Rome?", history: []}
    expected: {tool_calls: [{name: get_weather, arguments: {city: Rome}}]}
  - id: broken-json
    inputs: {question: "Weather in Oslo?", history: []}
    expected: {tool_calls: [{name: get_weather, arguments: {city: Oslo}}]}
  - id: text
    inputs: {question: "Weather in Kyiv?", history: []}
    expected: {tool_calls: [{name: get_weather, arguments: {city: Kyiv}}]}
  - id: unwanted
    inputs: {question: "Say hello.", history: []}
    expected: {tool_calls: []}
  - id: parallel
    inputs:
      question: "And the time in both?"
      history:
        - {role: user, content: "Weather in Paris and Rome?"}
        - role: assistant
          tool_calls:
            - {id: c1, name: get_weather, arguments: {city: Paris}}
            - {id: c2, name: get_weather, arguments: {city: Rome}}
        - {role: tool, tool_call_id: c1, content: "18 C, sunny"}
        - {role: tool, tool_call_id: c2, content: "25 C, clear"}
        - {role: assistant, content: "Paris 18 C, Rome 25 C."}
    expected: {tool_calls: [{name: get_time, arguments: {city: Paris}}, {name: get_time, arguments: {city: Rome}}]}
"""


def answer(body: dict) -> object:
    q = body["messages"][-1]["content"]
    call = lambda name, args: {"name": name, "arguments": args}  # noqa: E731
    return {
        "Weather in Paris?": {"tool_calls": [call("get_weather", {"city": "paris", "unit": "celsius"})]},
        "Weather in Lyon?": {"tool_calls": [call("get_weather", {"city": "Lille"})]},
        "Weather in Rome?": {"tool_calls": [call("get_time", {"city": "Rome"})]},
        "Weather in Oslo?": {"tool_calls": [call("get_weather", '{"city": "Oslo"')]},
        "Weather in Kyiv?": "I think it is cold in Kyiv.",
        "Say hello.": {"tool_calls": [call("get_time", {"city": "Nowhere"})]},
        # parallel calls in the other order: still right
        "And the time in both?": {"tool_calls": [call("get_time", {"city": "Rome"}),
                                                 call("get_time", {"city": "Paris"})]},
    }[q]


@pytest.fixture
def weather(repo):
    (repo / "prompts" / "weather.yaml").write_text(PROMPT)
    (repo / "golden" / "weather.yaml").write_text(GOLDEN)
    return repo


def test_a_tool_calling_prompt_is_scored_call_by_call(cli, weather):
    with FakeServer(answer=answer) as server:
        point_at(weather, server.api_base)
        r = cli.invoke(app, ["-C", str(weather), "eval", "weather", "--json"])
    data = json.loads(r.stdout)
    by = {x["id"]: x for x in data["results"]}
    assert {i for i, x in by.items() if x["passed"]} == {"right", "parallel"}
    assert "wrong-args" in by and "city Lille ≠ Lyon" in by["wrong-args"]["reason"]
    assert "called get_time, expected get_weather" in by["wrong-tool"]["reason"]
    assert "arguments are not a JSON object" in by["broken-json"]["reason"]
    assert "answered in text instead of calling get_weather" in by["text"]["reason"]
    assert "called get_time where no tool call was wanted" in by["unwanted"]["reason"]
    m = data["metrics"]
    # selection right in: right, wrong-args, broken-json, parallel (4 of 7)
    assert m["tool_selection_accuracy"] == pytest.approx(4 / 7)
    # arguments: right 1 tp (unit optional, given right: 2 tp), wrong-args 1 fp 1 fn, parallel 2 tp,
    # wrong-tool 1 fn, broken-json 1 fn, text 1 fn
    assert (m["tool_arg_precision"], m["tool_arg_recall"]) == pytest.approx((4 / 5, 4 / 8))
    assert m["invalid_call_rate"] == pytest.approx(1 / 7)  # one of the seven calls made
    assert data["tools"] == {"get_time": {"expected": 2, "right": 2}, "get_weather": {"expected": 4, "right": 1}}
    # the request carried the tools, tool_choice and the conversation in the API's shape
    sent = next(b for b in server.requests if b["messages"][-1]["content"] == "And the time in both?")
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather", "get_time"]
    assert sent["tool_choice"] == "auto"
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "tool", "tool", "assistant", "user"]
    assert json.loads(sent["messages"][2]["tool_calls"][1]["function"]["arguments"]) == {"city": "Rome"}
    assert r.exit_code == 0  # no thresholds and no critical case in this repo: the failures are reported, not gated


def test_a_call_that_breaks_the_tool_schema_fails_with_the_schema_error(cli, weather):
    with FakeServer(answer=lambda b: {"tool_calls": [{"name": "get_weather", "arguments": {"city": 7}}]}) as server:
        point_at(weather, server.api_base)
        r = cli.invoke(app, ["-C", str(weather), "eval", "weather", "-k", "right", "--json"])
    result = json.loads(r.stdout)["results"][0]
    assert not result["passed"] and "get_weather's arguments do not match its parameters at city" in result["reason"]


@pytest.mark.parametrize("edit,problem", [
    (lambda t: t.replace("name: get_time", "name: get_weather"), "tool 'get_weather' is declared twice"),
    (lambda t: t.replace("required: [city]\n  - type", "required: 5\n  - type"), "invalid JSON Schema"),
    (lambda t: t.replace("tool_choice: auto", "tool_choice: {type: function, function: {name: nope}}"),
     "tool_choice names 'nope', which is not a declared tool"),
    (lambda t: t.replace("inputs: [question, history]", "inputs: [question]"), "placeholder 'history' is not declared"),
])
def test_validate_checks_tools(cli, weather, edit, problem):
    (weather / "prompts" / "weather.yaml").write_text(edit(PROMPT))
    r = cli.invoke(app, ["-C", str(weather), "validate"])
    assert r.exit_code == 2 and problem in r.output and "weather.yaml:" in r.output


def test_tools_can_live_in_a_file_of_their_own(weather):
    tools = PROMPT.split("tools:\n", 1)[1].split("tool_choice:")[0]
    (weather / "tools").mkdir()
    (weather / "tools" / "weather.yaml").write_text("\n".join(line[2:] for line in tools.splitlines()) + "\n")
    prompt_text = PROMPT.replace("tools:\n" + tools, "tools: ../tools/weather.yaml\n")
    (weather / "prompts" / "weather.yaml").write_text(prompt_text)
    prompt = load_prompt(load_config(weather), "weather")
    assert [t["function"]["name"] for t in prompt.tools] == ["get_weather", "get_time"]
    (weather / "tools" / "weather.yaml").write_text("- {type: function, function: {name: 'bad name!'}}\n")
    with pytest.raises(ConfigError, match=r"tools/weather\.yaml:1"):
        _ = load_prompt(load_config(weather), "weather").tools


def test_a_change_to_a_tools_file_is_a_change_of_the_prompt_for_regress(tmp_path):
    from promptloop.git.changes import find_changes
    from promptloop.git.commits import open_repo
    from tests.gitrepo import commit_files, git, init_repo

    tools = PROMPT.split("tools:\n", 1)[1].split("tool_choice:")[0]
    root = tmp_path / "r"
    init_repo(root, {"promptloop.yaml": "models: {task: fake/task}\n", "golden/weather.yaml": GOLDEN,
                     "prompts/weather.yaml": PROMPT.replace("tools:\n" + tools, "tools: ../tools/weather.yaml\n"),
                     "tools/weather.yaml": "\n".join(line[2:] for line in tools.splitlines()) + "\n"})
    base = git(root, "rev-parse", "HEAD").strip()
    config = load_config(root)
    assert find_changes(config, open_repo(root), base)[0] == []
    commit_files(root, {"tools/weather.yaml": (root / "tools" / "weather.yaml").read_text().replace(
        "The current weather in a city.", "Weather now.")}, "shorter tool description")
    changes, _ = find_changes(config, open_repo(root), base)
    assert [c.name for c in changes] == ["weather"] and changes[0].inputs_changed == [
        "tools file tools/weather.yaml changed"]


def test_tool_calls_come_back_through_litellm_too(cli, weather, monkeypatch):
    """The same answers through litellm.acompletion (PROMPTLOOP_NO_FAST_PATH): litellm's own translation of
    the response, read into the same calls."""
    monkeypatch.setenv("PROMPTLOOP_NO_FAST_PATH", "1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    with FakeServer(answer=answer) as server:
        point_at(weather, server.api_base)
        r = cli.invoke(app, ["-C", str(weather), "eval", "weather", "--json", "-k", "right"])
        assert len(server.requests) == 1 and server.requests[0]["tools"][0]["function"]["name"] == "get_weather"
    result = json.loads(r.stdout)["results"][0]
    assert result["passed"] and result["tool_calls"][0]["arguments"] == {"city": "paris", "unit": "celsius"}


def test_regress_scores_the_base_version_with_the_tools_its_file_held(tmp_path):
    """A change to a tools file alone is judged old tools against new tools: here the new description makes
    the model call the wrong tool, and the gate must see the regression."""
    from promptloop.errors import EXIT_FAILED
    from promptloop.flows.regress import regress
    from promptloop.model.client import LM
    from tests.gitrepo import commit_files, git, init_repo

    tools = PROMPT.split("tools:\n", 1)[1].split("tool_choice:")[0]
    tools_file = "\n".join(line[2:] for line in tools.splitlines()) + "\n"

    def answer(body: dict) -> object:  # the model follows the description it is shown
        described = body["tools"][0]["function"]["description"]
        name = "get_time" if "Do not use" in described else "get_weather"
        return {"tool_calls": [{"name": name, "arguments": {"city": "Paris", "unit": "celsius"}}]}

    with FakeServer(answer=answer) as server:
        root = tmp_path / "r"
        init_repo(root, {"promptloop.yaml": f"models: {{task: {{name: openai/x, api_base: '{server.api_base}'}}}}\n",
                         "golden/weather.yaml": GOLDEN, "tools/weather.yaml": tools_file,
                         "prompts/weather.yaml": PROMPT.replace("tools:\n" + tools, "tools: ../tools/weather.yaml\n")})
        git(root, "branch", "base")
        commit_files(root, {"tools/weather.yaml": tools_file.replace("The current weather in a city.",
                                                                     "Do not use.")}, "worse description")
        async def gate():
            async with LM() as lm:
                return await regress(load_config(root), lm, base="base", prompts=["weather"])

        report = asyncio.run(gate())
    [v] = report.prompts
    assert v.paired is not None and v.paired.regressed == ["right"] and report.exit_code == EXIT_FAILED


@pytest.mark.parametrize("args, want", [
    ({"city": "Paris"}, {"city": "Paris"}),
    ({"city": "Paris", "unit": "celsius"}, {"city": "Paris", "unit": {"one_of": ["celsius", "kelvin"]}}),
    ({"city": "Paris"}, {"city": "Paris", "unit": {"one_of": ["celsius"], "optional": True}}),
    ({"n": 1}, {"n": 1.0}),                  # equal by value, not by type: the slow path says so
    ({"n": True}, {"n": 1}),                 # a bool is not a number
    ({"city": " paris "}, {"city": "Paris"}),  # equal once normalised
    ({"city": "Paris", "x": 1}, {"city": "Paris"}),  # one argument too many
    ({}, {"city": {"optional": True}}),
    ({"tags": ["a", "b"]}, {"tags": ["a", "b"]}),
    ({"city": "Rome"}, {"city": "Paris"}),
])
def test_the_quick_path_for_an_exact_call_says_what_the_full_comparison_says(args, want):
    from promptloop.repo.prompts import Assertion, Case
    from promptloop.scoring.assertions.base import Context
    from promptloop.scoring.assertions.tools import _compare, tool_call

    calls = [{"id": "1", "name": "f", "arguments": args}]
    case = Case("c", {}, {"tool_calls": [{"name": "f", "arguments": want}]})
    quick = tool_call("", Assertion("tool_call"), case, Context(tool_calls=calls))
    extra = {"expected_tools": ["f"], "called_tools": ["f"], "calls": 1, "invalid": 0, "selection_ok": True}
    full = _compare(calls, case.expected["tool_calls"], [], extra)
    assert (quick.passed, quick.score, quick.reason, quick.extra) == (full.passed, full.score, full.reason, full.extra)


def test_a_call_exactly_as_expected_still_fails_when_it_breaks_the_declared_schema():
    """The case's expectation is itself wrong (kelvin is not among the unit's values): the call matches it
    exactly, and is still invalid."""
    from promptloop.repo.prompts import Assertion, Case
    from promptloop.scoring.assertions.base import Context
    from promptloop.scoring.assertions.tools import tool_call

    tools = [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}}}}]
    calls = [{"id": "1", "name": "f", "arguments": {"unit": "kelvin"}}]
    case = Case("c", {}, {"tool_calls": [{"name": "f", "arguments": {"unit": "kelvin"}}]})
    r = tool_call("", Assertion("tool_call"), case, Context(tool_calls=calls, tools=tools))
    assert not r.passed and r.score == 0.0 and r.extra["invalid"] == 1 and "unit" in r.reason
