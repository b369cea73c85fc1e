"""optimize on a tool-calling prompt: the proposer sees the tools, demonstrations are whole exchanges, and
the committed winner keeps the tools byte for byte."""

from __future__ import annotations

import asyncio
import json

import yaml

from promptloop.flows.optimize import optimize_prompt
from promptloop.model.client import Request
from promptloop.optimize.outcome import Options
from promptloop.repo.config import load_config
from promptloop.repo.prompts import load_prompt
from promptloop.testing import FakeModel
from tests.gitrepo import git, init_repo

PROMPT = """\
description: Route requests to the right tool.
inputs: [request]
messages:
  - role: system
    content: You help with the weather and the time.
  - role: user
    content: "{{request}}"
tools:
  - type: function
    function:
      name: get_weather
      description: The weather in a city.
      parameters: {type: object, properties: {city: {type: string}}, required: [city]}
  - type: function
    function:
      name: get_time
      description: The local time in a city.
      parameters: {type: object, properties: {city: {type: string}}, required: [city]}
tool_choice: required
"""
CITIES = ["Paris", "Rome", "Oslo", "Lima", "Kyiv", "Cairo", "Quito", "Hanoi", "Dakar", "Tunis"]
CASES = [(f"w{i}", f"weather in {c}", "get_weather", c) for i, c in enumerate(CITIES)] + \
        [(f"t{i}", f"time in {c}", "get_time", c) for i, c in enumerate(CITIES)]


def golden() -> str:
    return "cases:\n" + "".join(f"  - id: {i}\n    inputs: {{request: '{q}'}}\n    expected: {{tool_calls: "
                                f"[{{name: {t}, arguments: {{city: {c}}}}}]}}\n" for i, q, t, c in CASES)


def respond(request: Request) -> object:
    if request.purpose == "proposer":
        tools_seen = "get_weather" in request.messages[0]["content"]
        return json.dumps({"candidates": [{"rationale": "tools listed" if tools_seen else "no tools",
                                           "instructions": "Call get_time for times, get_weather for weather."}]})
    ask = request.messages[-1]["content"]
    city = ask.split(" in ")[-1]
    demos = any(m.get("tool_calls") for m in request.messages)
    # Without an exchange to copy, the fake model always asks for the weather.
    name = ("get_time" if ask.startswith("time") else "get_weather") if demos else "get_weather"
    return {"tool_calls": [{"name": name, "arguments": {"city": city}}]}


def test_optimize_keeps_the_tools_and_demonstrates_whole_exchanges(tmp_path):
    root = tmp_path / "repo"
    init_repo(root, {"promptloop.yaml": "models: {task: fake/task, proposer: fake/proposer}\nbranch_prefix: pl\n",
                     "prompts/route.yaml": PROMPT, "golden/route.yaml": golden(), ".gitignore": ".promptloop/\n"})
    client = FakeModel(responder=respond)
    options = Options(rounds=1, candidates=3, patience=1, seed=0)
    client.budget = options.budget()
    report = asyncio.run(optimize_prompt(load_config(root), "route", options, client=client))
    o = report.outcome
    assert o.status == "improved" and o.winner is not None and o.winner.candidate.origin == "fewshot"
    proposer = [r for r in client.history if r.purpose == "proposer"]
    assert proposer and "get_time" in proposer[0].messages[0]["content"]  # the proposer saw the tools
    committed = git(root, "show", f"{report.shipped.branch}:prompts/route.yaml")
    assert committed.split("tool_choice:")[0].split("tools:")[1] == PROMPT.split("tool_choice:")[0].split("tools:")[1]
    data = yaml.safe_load(committed)
    calls = [m for m in data["messages"] if m.get("tool_calls")]
    assert calls and all(m["role"] == "assistant" and m.get("example") for m in calls)
    results = [m for m in data["messages"] if m.get("role") == "tool"]
    assert len(results) == sum(len(m["tool_calls"]) for m in calls)  # every call answered, as the API requires
    # the committed file is a valid prompt whose tools are the original ones
    git(root, "checkout", "-q", report.shipped.branch)
    prompt = load_prompt(load_config(root), "route")
    assert [t["function"]["name"] for t in prompt.tools] == ["get_weather", "get_time"]


CLOCK = "The current clock time in a city. Call it for any question about the time."


def description_sensitive(request: Request) -> object:
    """A fake model that picks get_time only when its description speaks of a clock, and a proposer that
    offers a new description whenever the meta-prompt invites one."""
    if request.purpose == "proposer":
        item = {"rationale": "say when each tool applies", "instructions": "You route requests to tools."}
        if "tool_descriptions" in request.messages[0]["content"]:
            item["tool_descriptions"] = {"get_time": CLOCK, "nonexistent": "ignored"}
        return json.dumps({"candidates": [item]})
    tools = {t["function"]["name"]: t["function"].get("description", "") for t in request.params["tools"]}
    ask = request.messages[-1]["content"]
    name = "get_time" if ask.startswith("time") and "clock" in tools["get_time"] else "get_weather"
    return {"tool_calls": [{"name": name, "arguments": {"city": ask.split(" in ")[-1]}}]}


def run_rewrite(tmp_path, files: dict[str, str], rewrite: bool):
    root = tmp_path / "repo"
    init_repo(root, {"promptloop.yaml": "models: {task: fake/task, proposer: fake/proposer}\nbranch_prefix: pl\n",
                     "golden/route.yaml": golden(), ".gitignore": ".promptloop/\n", **files})
    client = FakeModel(responder=description_sensitive)
    options = Options(rounds=1, candidates=2, patience=1, seed=0, rewrite_tool_descriptions=rewrite)
    client.budget = options.budget()
    return root, asyncio.run(optimize_prompt(load_config(root), "route", options, client=client))


def test_tool_descriptions_are_rewritten_only_when_asked(tmp_path):
    _, report = run_rewrite(tmp_path, {"prompts/route.yaml": PROMPT}, rewrite=False)
    assert report.outcome.winner is None  # no candidate may touch a description

    root, report = run_rewrite(tmp_path / "asked", {"prompts/route.yaml": PROMPT}, rewrite=True)
    w = report.outcome.winner
    assert w is not None and w.candidate.origin == "proposer" and report.outcome.baseline_rate < 0.6
    assert w.full_rate == 1.0
    committed = git(root, "show", f"{report.shipped.branch}:prompts/route.yaml")
    # the one description changed in place: every other byte of the tools (names, parameters) kept
    tools_part = "tools:" + PROMPT.split("tools:")[1]
    assert committed.endswith(tools_part.replace("The local time in a city.", CLOCK))
    assert "You route requests to tools." in committed.split("tools:")[0]
    message = git(root, "log", "-1", "--format=%B", report.shipped.branch)
    assert "Tool descriptions rewritten: get_time." in message and "Chosen by: the highest pass rate." in message
    assert report.outcome.winner.tokens_per_call is not None  # each candidate's usage per call is reported


def test_a_tools_file_is_rewritten_in_place_of_the_prompt(tmp_path):
    tools = "- type: function\n  function:\n    name: get_weather\n    description: The weather in a city.\n" \
            "    parameters: {type: object, properties: {city: {type: string}}}\n" \
            "- type: function\n  function:\n    name: get_time  # no description yet\n" \
            "    parameters: {type: object, properties: {city: {type: string}}}\n"
    prompt = PROMPT.split("tools:")[0] + "tools: tools.yaml\ntool_choice: required\n"
    root, report = run_rewrite(tmp_path, {"prompts/route.yaml": prompt, "prompts/tools.yaml": tools}, rewrite=True)
    assert report.shipped is not None
    committed = git(root, "show", f"{report.shipped.branch}:prompts/tools.yaml")
    assert committed == tools.replace("# no description yet\n", f"# no description yet\n    description: {CLOCK}\n")
    assert git(root, "show", f"{report.shipped.branch}:prompts/route.yaml").endswith("tools: tools.yaml\n"
                                                                                      "tool_choice: required\n")
