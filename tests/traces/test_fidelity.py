"""Trace fidelity (issue 12): every imported call keeps its input, output, model, time and tokens, or the
import summary says why not. Shapes follow the GenAI semantic conventions, OpenInference and MLflow 2."""

from __future__ import annotations

import json

from promptloop.cli import app
from promptloop.flows.ingest import import_files
from promptloop.repo.config import load_config
from promptloop.traces.store import TraceStore, store_path

PARTS_IN = [{"role": "system", "parts": [{"type": "text", "content": "You are terse."}]},
            {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
            {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "weather",
                                             "arguments": {"city": "Paris"}}]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "18C"}]}]
PARTS_OUT = [{"role": "assistant", "parts": [{"type": "reasoning", "content": "easy"},
                                             {"type": "text", "content": "18C and sunny."}],
              "finish_reason": "stop"}]


def kv(d):
    return [{"key": k, "value": {"stringValue": v} if isinstance(v, str) else {"intValue": str(v)}}
            for k, v in d.items()]


def otlp(spans):
    return {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}


def stored(repo, *records, name="t.jsonl"):
    f = repo.parent / name
    f.write_text("".join(json.dumps(r) + "\n" for r in records))
    config = load_config(repo)
    summary = import_files(config, [f])
    with TraceStore(store_path(config.cache_dir)) as store:
        return summary, store.query()


def test_genai_messages_as_json_strings_keep_the_conversation(repo):
    span = {"traceId": "a" * 32, "spanId": "b" * 16, "name": "chat gpt-4o", "startTimeUnixNano": "1730000000000000000",
            "endTimeUnixNano": "1730000001500000000", "attributes": kv({
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                "gen_ai.prompt": json.dumps(PARTS_IN), "gen_ai.completion": json.dumps(PARTS_OUT),
                "gen_ai.usage.input_tokens": 42, "gen_ai.usage.output_tokens": 7})}
    _, [t] = stored(repo, otlp([span]))
    assert [m["role"] for m in t.messages] == ["system", "user", "assistant", "tool"]
    assert t.messages[1]["content"] == "Weather in Paris?"
    assert t.messages[2]["tool_calls"] == [{"id": "c1", "name": "weather", "arguments": {"city": "Paris"}}]
    assert t.messages[3]["content"] == "18C"
    assert t.output == "18C and sunny."
    assert (t.model, t.input_tokens, t.output_tokens) == ("gpt-4o", 42, 7)
    assert t.time == "2024-10-27T03:33:20Z" and t.latency_ms == 1500


def test_openinference_json_values_keep_the_input(repo):
    record = {"name": "llm", "context": {"trace_id": "t1", "span_id": "s1"}, "span_kind": "LLM",
              "start_time": "2025-01-02T03:04:05Z", "end_time": "2025-01-02T03:04:06Z",
              "attributes": {"openinference.span.kind": "LLM", "llm.model_name": "claude-3",
                             "input.mime_type": "application/json",
                             "input.value": json.dumps({"messages": [
                                 {"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}),
                             "output.mime_type": "application/json",
                             "output.value": json.dumps({"role": "assistant", "content": [
                                 {"type": "text", "text": "Hello!"},
                                 {"type": "tool_use", "id": "x", "name": "lookup", "input": {"q": 1}}]})}}
    chain = {**record, "context": {"trace_id": "t1", "span_id": "s2"}, "name": "agent",
             "attributes": {"openinference.span.kind": "CHAIN", "input.value": "{}"}}
    summary, [t] = stored(repo, record, chain)
    assert t.messages == [{"role": "user", "content": "Hi"}] and t.output == "Hello!"
    assert t.time == "2025-01-02T03:04:05Z" and t.model == "claude-3"
    assert summary.by_format["openinference"].skipped  # the CHAIN span is counted, not stored


def test_mlflow_v2_function_spans_are_not_calls_and_ids_come_from_the_context(repo):
    def span(sid, kind, inputs, outputs):
        return {"name": f"span-{sid}", "context": {"span_id": sid, "trace_id": "tr"}, "parent_id": None,
                "start_time": 1700000000000000000, "end_time": 1700000000250000000,
                "attributes": {"mlflow.spanType": json.dumps(kind), "mlflow.spanInputs": json.dumps(inputs),
                               "mlflow.spanOutputs": json.dumps(outputs)}}

    chat = {"messages": [{"role": "user", "content": "2+2?"}]}
    reply = {"choices": [{"message": {"role": "assistant", "content": "4"}}], "model": "gpt-4o-mini",
             "usage": {"prompt_tokens": 5, "completion_tokens": 1}}
    record = {"info": {"request_id": "tr", "timestamp_ms": 1700000000000},
              "data": {"spans": [span("0x01", "UNKNOWN", {"z": 7}, 8), span("0x02", "CHAT_MODEL", chat, reply),
                                 span("0x03", "CHAT_MODEL", chat, reply)]}}
    _, traces = stored(repo, record)
    assert len(traces) == 2 and len({t.id for t in traces}) == 2  # two calls, two ids: none dropped as a duplicate
    assert not any(t.id.endswith(":None") for t in traces)
    assert all(t.output == "4" and t.messages and t.time == "2023-11-14T22:13:20Z" for t in traces)
    assert all(t.latency_ms == 250 for t in traces)


def test_trace_level_scores_are_inherited_and_marked(repo, cli):
    gen = lambda i: {"id": f"g{i}", "type": "GENERATION", "input": [{"role": "user", "content": f"q{i}"}],  # noqa
                     "output": "a", "startTime": "2025-01-01T00:00:00Z"}
    record = {"id": "lf", "scores": [{"name": "toxicity", "value": 0.9},
                                     {"name": "helpful", "value": 0.0, "observationId": "g2"}],
              "observations": [gen(1), gen(2)]}
    _, traces = stored(repo, record)
    by_id = {t.id: t for t in traces}
    one, two = by_id["langfuse:lf:g1"], by_id["langfuse:lf:g2"]
    assert one.verdict == "fail" and one.verdict_inherited and "inherited" in one.reason
    assert two.verdict == "fail" and "helpful" in two.reason  # its own score decides it, directly
    r = cli.invoke(app, ["-C", str(repo), "traces"])
    assert "1 inherited" in r.output


def test_the_summary_says_which_calls_lack_input_or_output(repo, cli, tmp_path):
    span = {"traceId": "c" * 32, "spanId": "d" * 16, "name": "chat", "startTimeUnixNano": "1",
            "attributes": kv({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"})}
    tool = {"traceId": "c" * 32, "spanId": "e" * 16, "name": "execute_tool weather",
            "attributes": kv({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "weather"})}
    f = tmp_path / "o.jsonl"
    f.write_text(json.dumps(otlp([span, tool])) + "\n")
    r = cli.invoke(app, ["-C", str(repo), "import", str(f)])
    assert r.exit_code == 0
    out = r.output.replace("\n", " ")
    assert "otlp: 1 record(s), 1 call(s)" in out and "not an LLM call" in out
    assert "1 call(s) without input" in out and "1 call(s) without output" in out and "o.jsonl:1" in out
    again = cli.invoke(app, ["-C", str(repo), "import", str(f), "--json"])
    assert json.loads(again.stdout)["imported"] == 0  # idempotent


FIXTURES = __import__("pathlib").Path(__file__).resolve().parent.parent / "fixtures" / "traces"
# Where the file itself holds no chat messages: a Batch output without its input file; an MLflow LLM span
# whose inputs are plain arguments ({"z": 7}, kept as the trace's inputs).
NO_MESSAGES_IN_FILE = {"openai_batch_output.jsonl", "mlflow/mlflow_v3_trace.from_v2_fixture.json"}
NO_CALL_IN_FILE = {"otel_genai/otel_genai_tool_execution_span.json"}  # a tool span: skipped and counted
# The Claude Agent SDK's Langfuse integration wrote the input of 3 of its 4 turns as {"content": "role"}.
INPUT_LOST_AT_SOURCE = {"langfuse/claude-agent-2025-12-22.trace.json": 3}
FIXTURE_FILES = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*")
                       if p.suffix in (".json", ".jsonl", ".yaml") and "assessment" not in p.name)


@__import__("pytest").mark.parametrize("rel", FIXTURE_FILES)
def test_every_real_fixture_keeps_messages_and_output(tmp_path, rel):
    root = tmp_path / "r"
    root.mkdir()
    (root / "promptloop.yaml").write_text("models: {default: local/smollm2}\n")
    config = load_config(root)
    files = [FIXTURES / rel] + ([FIXTURES / "openai_batch_output.jsonl"] if rel == "openai_batch_input.jsonl" else [])
    first = import_files(config, files)
    with TraceStore(store_path(config.cache_dir)) as store:
        traces = store.query()
    if rel in NO_CALL_IN_FILE:
        assert not traces and sum(sum(f.skipped.values()) for f in first.by_format.values()) == 1
        return
    assert traces and first.imported == len(traces)
    assert sum(not t.messages for t in traces) == INPUT_LOST_AT_SOURCE.get(rel, 0) or rel in NO_MESSAGES_IN_FILE
    for t in traces:
        assert t.output is not None and t.output != "", t.id
        assert not t.id.endswith((":None", ":")), t.id
    assert import_files(config, files).imported == 0  # a second import adds nothing


WEATHER_IN = [{"role": "user", "content": "Weather in Paris?"},
              {"role": "assistant", "content": "Absolutely! Let me check the weather for you.",
               "tool_calls": [{"id": "1234", "name": "get_weather", "arguments": {"location": "Paris"}}]},
              {"role": "tool", "content": "rainy, 57°F", "tool_call_id": "1234"}]
WEATHER_OUT = "The weather in Paris is currently rainy with a temperature of 57°F."


@__import__("pytest").mark.parametrize("rel, params", [
    ("openinference/openinference_client_span_input_output_only.json",
     {"temperature": 0.5, "top_p": 0.9, "max_completion_tokens": 200}),
    ("otel_genai/otel_genai_deprecated_client_span_tool_calls.json",
     {"temperature": 0.5, "top_p": 0.9, "max_tokens": 200}),
])
def test_arize_fixtures_field_by_field(tmp_path, rel, params):
    """Values read by hand from the files (Arize-ai/openinference test fixtures)."""
    root = tmp_path / "r"
    root.mkdir()
    (root / "promptloop.yaml").write_text("models: {default: local/smollm2}\n")
    config = load_config(root)
    import_files(config, [FIXTURES / rel])
    with TraceStore(store_path(config.cache_dir)) as store:
        [t] = store.query()
    assert t.messages == WEATHER_IN and t.output == WEATHER_OUT
    assert (t.model, t.input_tokens, t.output_tokens) == ("gpt-4-0613", 97, 52)
    assert t.params == params


def test_two_different_calls_under_one_id_are_reported(repo, tmp_path):
    rec = {"promptloop_trace": 1, "id": "same", "messages": [{"role": "user", "content": "a"}], "output": "x"}
    f = tmp_path / "t.jsonl"
    f.write_text(json.dumps(rec) + "\n" + json.dumps({**rec, "output": "y"}) + "\n" + json.dumps(rec) + "\n")
    s = import_files(load_config(repo), [f])
    assert s.imported == 1 and sum("two different calls share the trace id promptloop:same" in p
                                   for p in s.problems) == 1


def test_every_format_is_one_module_found_by_its_name_and_documented():
    """A format is one module: discovered by NAME, tried in PRECEDENCE order, and listed in the README's table."""
    import re
    from pathlib import Path

    from promptloop.traces.formats import DETECTION_ORDER, FORMATS

    assert len(FORMATS) == len(set(FORMATS)) >= 12
    precedences = [m.PRECEDENCE for m in DETECTION_ORDER]
    assert precedences == sorted(precedences) and len(set(precedences)) == len(precedences)
    assert all(callable(m.detect) and callable(m.parse) for m in DETECTION_ORDER)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = set(re.findall(r"^\| `([a-z_]+)` \|", readme.split("## Importing traces")[1].split("\n\n", 3)[2], re.M))
    assert table == set(FORMATS)


def test_litellm_standard_logging_payload_field_by_field(repo, tmp_path):
    """What every LiteLLM logging callback writes (here a real payload from LiteLLM's own tests), read whole:
    as one JSON document, and as JSON Lines."""
    from pathlib import Path

    fixture = Path(__file__).parent.parent / "fixtures" / "traces" / "litellm" / "standard_logging_payload.json"
    record = json.loads(fixture.read_text())
    lines = tmp_path / "payloads.jsonl"
    lines.write_text(json.dumps(record) + "\n" + json.dumps({**record, "id": "chatcmpl-2", "call_type": "aembedding"})
                     + "\n")
    for f, new in ((fixture, 1), (lines, 0)):  # the same call again: a duplicate, not a second call
        config = load_config(repo)
        summary = import_files(config, [f])
        assert (summary.imported, summary.duplicates) == (new, 1 - new)
        assert summary.by_format["litellm_payload"].calls == 1
        with TraceStore(store_path(config.cache_dir)) as store:
            [t] = store.query()
        assert t.id == "litellm:chatcmpl-2299b6a2-82a3-465a-b47c-04e685a2227f" and t.source == "litellm_payload"
        assert t.messages == [{"role": "user", "content": "Hello, world!"}] and t.output == "hi"
        assert (t.model, t.input_tokens, t.output_tokens, t.cost_usd) == ("gpt-4o", 10, 20, 0.00022500000000000002)
        assert t.time == "2025-01-24T09:20:46.847371Z" and round(t.latency_ms, 3) == 4.583
        assert t.metadata["stream"] is True and round(t.metadata["time_to_first_token_ms"], 3) == 4.583
    assert "aembedding call is not an LLM call" in json.dumps(summary.by_format["litellm_payload"].skipped)


def test_recordings_of_anthropic_bedrock_and_gemini_calls_import_whole(repo):
    """Real VCR cassettes (pydantic-ai's tests) of three non-OpenAI APIs: every call, its messages with tool
    calls (ids kept) and tool results as text, its output (text or calls), model (from the URI for Bedrock),
    tokens and latency."""
    from pathlib import Path

    folder = Path(__file__).parent.parent / "fixtures" / "traces" / "cassettes_other_apis"
    config = load_config(repo)
    summary = import_files(config, sorted(folder.glob("*.yaml")))
    assert (summary.imported, summary.skipped) == (5, 0) and summary.formats["recorded_api"] == 5
    with TraceStore(store_path(config.cache_dir)) as store:
        by = {t.id: t for t in store.query()}
    a = by["anthropic_messages:msg_01M5PoMWEjyV6vzXYve8Vgyw"]
    assert [m["role"] for m in a.messages] == ["user", "assistant", "tool"]
    assert a.messages[1]["tool_calls"] == [{"id": "toolu_01ECaF1WRmnTui1BpXZXyBds", "name": "get_user_country",
                                            "arguments": {}}]
    assert a.messages[2] == {"role": "tool", "content": "Mexico", "tool_call_id": "toolu_01ECaF1WRmnTui1BpXZXyBds"}
    assert a.output == {"tool_calls": [{"id": "toolu_01UKDf4fk894G2BEpiPSwL6s", "name": "final_result",
                                        "arguments": {"city": "Mexico City", "country": "Mexico"}}]}
    assert (a.model, a.input_tokens, a.output_tokens) == ("claude-sonnet-4-5-20250929", 762, 56)
    [b1, b2] = sorted((t for t in by.values() if t.id.startswith("bedrock")), key=lambda t: t.input_tokens or 0)
    assert b1.model == "moonshot.kimi-k2-thinking" and b1.latency_ms == 1169
    assert b1.messages[0] == {"role": "system", "content": "You are a helpful chatbot. Use tools when helpful."}
    assert b1.output == {"tool_calls": [{"id": "functions.get_temperature:0", "name": "get_temperature",
                                         "arguments": {"city": "London"}}]}
    assert b2.messages[-1] == {"role": "tool", "content": "30°C", "tool_call_id": "functions.get_temperature:0"}
    assert b2.output == " <think> The temperature in London is 30°C."
    assert (b2.input_tokens, b2.output_tokens) == (188, 11)
    g = by["gemini_generate_content:_qfgaevzGcz2juMP8pCmoAE"]
    assert [m["role"] for m in g.messages] == ["user", "assistant", "tool", "user"]
    assert g.messages[1]["tool_calls"][0] == {"id": "call_openai_xyz", "name": "get_answer", "arguments": {}}
    assert json.loads(g.messages[2]["content"]) == {"return_value": 42}
    assert g.output.startswith("I'm sorry")
    assert (g.model, g.input_tokens, g.output_tokens) == ("gemini-2.5-flash", 57, 32)


def test_an_interaction_that_is_not_a_model_call_is_counted_and_named(repo):
    cassette = repo.parent / "mixed.yaml"
    cassette.write_text("interactions:\n- request: {uri: 'https://api.anthropic.com/v1/models', body: ''}\n"
                        "  response: {status: {code: 200}, body: {string: '{\"data\": []}'}}\n")
    summary = import_files(load_config(repo), [cassette])
    assert summary.imported == 0 and summary.records == 1
    assert summary.by_format["recorded_api"].skipped == {"an interaction with /v1/models is not a model call": 1}
    assert any("/v1/models is not a model call" in p for p in summary.problems)


def test_an_empty_answer_never_inherits_a_pass(repo):
    """A trace-level thumbs-up covers every call of the trace, but a call whose answer normalised to nothing
    (a tool-call turn an exporter wrote as "", say) is not passed: it stays unknown and says why."""
    good = {"promptloop_trace": 1, "id": "a", "messages": [{"role": "user", "content": "hi"}], "output": "hello",
            "feedback": [{"kind": "thumbs", "value": True}]}
    empty = {**good, "id": "b", "output": ""}
    _, traces = stored(repo, good, empty)
    by = {t.id: t for t in traces}
    assert by["promptloop:a"].verdict == "pass"
    assert by["promptloop:b"].verdict == "unknown" and "no answer recorded" in by["promptloop:b"].reason
