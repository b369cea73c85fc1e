"""An agent's turn, recorded by the app with its earlier turns and its tool calls, becomes a golden case that
replays the conversation and expects the corrected call."""

from __future__ import annotations

import json

import yaml

import promptloop
from promptloop.cli import app
from promptloop.flows.ingest import import_files
from promptloop.repo.config import load_config
from promptloop.testing import FakeServer
from promptloop.traces.to_golden import promote
from tests.conftest import point_at
from tests.scoring.test_tool_calls import PROMPT


def test_a_recorded_agent_turn_becomes_a_case_that_replays_it(cli, repo, tmp_path):
    (repo / "prompts" / "weather.yaml").write_text(PROMPT)
    (repo / "golden" / "weather.yaml").write_text("cases: []\n")
    history = [{"role": "user", "content": "Weather in Paris?"},
               {"role": "assistant", "tool_calls": [{"id": "c1", "name": "get_weather",
                                                     "arguments": {"city": "Paris"}}]},
               {"role": "tool", "tool_call_id": "c1", "content": "18 C"},
               {"role": "assistant", "content": "18 C in Paris."}]
    prompt = promptloop.load("weather", repo=repo)
    assert [t["function"]["name"] for t in prompt.request(question="And Rome?", history=history)["tools"]] == [
        "get_weather", "get_time"]
    sink = tmp_path / "traces.jsonl"
    tid = promptloop.record(prompt, {"question": "And Rome?", "history": history}, "",
                            tool_calls=[{"id": "c2", "name": "get_time", "arguments": {"city": "Rome"}}], sink=sink)
    promptloop.feedback(tid, thumbs=False, correction={"tool_calls": [{"name": "get_weather",
                                                                       "arguments": {"city": "Rome"}}]}, sink=sink)
    config = load_config(repo)
    assert import_files(config, [sink]).imported == 1
    assert len(promote(config, "weather", failed=True).added) == 1
    case = yaml.safe_load((repo / "golden" / "weather.yaml").read_text())["cases"][0]
    assert case["inputs"]["question"] == "And Rome?" and [m["role"] for m in case["inputs"]["history"]] == [
        "user", "assistant", "tool", "assistant"]
    assert case["inputs"]["history"][1]["tool_calls"][0]["name"] == "get_weather"
    assert case["expected"] == {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Rome"}}]}

    # the case replays the conversation and passes when the model makes the corrected call
    def answer(body: dict) -> object:
        assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "tool", "assistant", "user"]
        return {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Rome"}}]}

    with FakeServer(answer=answer) as server:
        point_at(repo, server.api_base)
        r = cli.invoke(app, ["-C", str(repo), "eval", "weather", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["passed"] == 1, r.output
