"""Langfuse exports of agents from eight frameworks (langfuse/langfuse's own test traces, MIT), checked field by
field against the values in the files: tool calls with their ids, tool results as text, tool definitions kept
with the call (never as messages), system instructions as the system message, one call counted once."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptloop.flows.ingest import import_files
from promptloop.repo.config import load_config
from promptloop.traces.store import TraceStore, store_path

LANGFUSE = Path(__file__).resolve().parent.parent / "fixtures" / "traces" / "langfuse"


@pytest.fixture
def load(tmp_path):
    def go(name: str):
        root = tmp_path / name
        root.mkdir()
        (root / "promptloop.yaml").write_text("models: {default: local/smollm2}\n")
        config = load_config(root)
        summary = import_files(config, [LANGFUSE / f"{name}.trace.json"])
        with TraceStore(store_path(config.cache_dir)) as store:
            return summary, {t.id.split(":")[-1]: t for t in store.query()}
    return go


WEB_SEARCH = {"type": "function", "function": {"name": "Web-Search", "description": "Dummy web search tool.",
              "parameters": {"properties": {"query": {"type": "string"}}, "required": ["query"], "type": "object"}}}


def test_langgraph_tool_calls_results_and_definitions(load):
    _, traces = load("langgraph-python-2025-08-22")
    first, second = traces["4f6535aaebcda355"], traces["5ba09605e0929d78"]
    assert first.output == {"tool_calls": [{"id": "call_1oGK863sxQHlPreFhDdEs3yl", "name": "Web-Search",
                                            "arguments": {"query": "example"}}]}
    assert second.messages == [
        {"role": "user", "content": "Be helpful!"},
        {"role": "user", "content": "Search the web for 'example' and summarize."},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1oGK863sxQHlPreFhDdEs3yl", "name": "Web-Search", "arguments": {"query": "example"}}]},
        {"role": "tool", "content": '[{"url": "https://example.com", "title": "Example Result", "q": "example"}]',
         "tool_call_id": "call_1oGK863sxQHlPreFhDdEs3yl"}]  # the definition item is not a message
    assert second.tools == [WEB_SEARCH] and first.tools == [WEB_SEARCH]
    assert second.output.startswith('The search for "example" primarily leads to the website')
    assert (second.model, second.input_tokens, second.output_tokens, second.latency_ms) == (
        "gpt-4o-2024-08-06", 108, 51, 1743.0)
    assert second.params == {"temperature": 0}


def test_google_adk_system_instruction_function_parts_and_answer_without_candidates(load):
    _, traces = load("google-adk-2025-08-28")
    t = traces["bded677884f031ce"]
    assert t.messages == [
        {"role": "system", "content": 'Always greet using the say_hello tool.\n\nYou are an agent. Your internal '
                                      'name is "hello_agent".'},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "", "tool_calls": [{"name": "say_hello", "arguments": {}}]},
        {"role": "tool", "content": '{"greeting": "Hello Langfuse 👋"}', "tool_call_id": "say_hello"}]
    assert t.output == "Hello Langfuse 👋!\n"
    assert traces["f6e4c65297e40c96"].output == {"tool_calls": [{"name": "say_hello", "arguments": {}}]}
    assert t.tools == [{"type": "function", "function": {"name": "say_hello"}}]
    assert t.params == {} and t.metadata["request"]["system_instruction"].startswith("Always greet")
    assert (t.model, t.input_tokens, t.output_tokens) == ("gemini-2.0-flash", 39, 6)


def test_vercel_wrapper_is_not_a_second_call(load):
    summary, traces = load("vercel-aisdk-2025-11-17")
    assert list(traces) == ["91a17a2274bfd23f"]  # the doGenerate, not the ai.generateText around it
    t = traces["91a17a2274bfd23f"]
    assert t.messages == [{"role": "user", "content": "What is the weather like today in San Francisco?"}]
    assert t.output == {"tool_calls": [{"id": "call_DgKARp7a7IhJPDczfifMp6Ra", "name": "getWeather",
                                        "arguments": {"location": "San Francisco"}}]}
    assert t.tools[0]["function"]["name"] == "getWeather"
    assert t.tools[0]["function"]["parameters"]["required"] == ["location"]
    assert "system" not in t.params  # "openai.responses" is the provider, not a system prompt
    assert sum(sum(f.skipped.values()) for f in summary.by_format.values()) == 1


def test_koog_calls_written_as_text_in_a_tool_turn(load):
    _, traces = load("koog-2025-08-26")
    answer = traces["042f9350c3729147"].output
    assert answer == {"tool_calls": [
        {"id": "call_n2HaWg9KFP0BZDqXv6G4b3nJ", "name": "HelloTool", "arguments": {"name": "Bob"}},
        {"id": "call_dOeEHJDI0liHrCdFWTpkTsuO", "name": "ByeTool", "arguments": {"name": "Bob"}}]}
    turns = traces["e44e72cf2d221781"].messages
    assert [m["role"] for m in turns] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert turns[2]["tool_calls"][0]["name"] == "HelloTool" and turns[3]["content"] == "Hello my darling Bob!"


def test_pydantic_ai_tool_results_in_a_user_turn(load):
    _, traces = load("pydantic-ai-tools-2025-12-04")
    turns = traces["8976b072313c51f2"].messages
    assert [m["role"] for m in turns] == ["system", "user", "assistant", "tool", "tool", "tool", "assistant", "user"]
    assert turns[3] == {"role": "tool", "tool_call_id": "call_X0OSgjUukT5inyEQvuZQnHrk",
                        "content": "Pun idea: Play on words related to 'programming' - think about homophones or "
                                   "double meanings"}
    assert len(turns[2]["tool_calls"]) == 3
    assert traces["8976b072313c51f2"].latency_ms == 1283.0  # from the times: `latency` is in ms in this export


def test_single_message_and_positional_inputs(load):
    _, claude = load("claude-agent-2025-12-22")
    assert claude["e9aac170e5d48125"].messages == [
        {"role": "user", "content": "What's the weather like in Berlin and New York?"}]
    assert claude["f8e8f040dc94e67e"].output == {"tool_calls": [
        {"id": "toolu_01NtVat4vJLFfVd5TqdLHcA7", "name": "mcp__weather__get_weather",
         "arguments": {"city": "New York"}}]}
    _, llama = load("llamaindex-2025-06-05")
    t = llama["7ca8b22f6628d0c7"]
    assert t.messages == [{"role": "user", "content": "What is Langfuse?"}]
    assert t.params == {} and t.metadata["request"]["context_window"] == 128000  # not sampling parameters


def test_params_hold_sampling_parameters_only(load):
    _, traces = load("openai-agents-2025-09-30")
    t = traces["98870087af69bf06"]
    assert set(t.params) <= {"temperature", "top_p"} and "instructions" in t.metadata["request"]
    assert t.output == {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Tokyo"}}]}


@pytest.mark.parametrize("name, tools", [
    ("anthropic_messages_tool_use.yaml", ["get_user_country", "final_result"]),  # Anthropic `input_schema`
    ("bedrock_converse_tool_use.yaml", ["get_temperature"]),  # Bedrock `toolConfig.tools[].toolSpec`
    ("gemini_generate_content_function_call.yaml", ["get_answer"]),  # Gemini `functionDeclarations`
])
def test_recorded_calls_keep_the_tools_they_declared(tmp_path, name, tools):
    root = tmp_path / "r"
    root.mkdir()
    (root / "promptloop.yaml").write_text("models: {default: local/smollm2}\n")
    config = load_config(root)
    import_files(config, [LANGFUSE.parent / "cassettes_other_apis" / name])
    with TraceStore(store_path(config.cache_dir)) as store:
        stored = store.query()
    assert stored and all([t["function"]["name"] for t in s.tools] == tools for s in stored)
    assert all(t["function"].get("parameters", {}).get("type") == "object" for s in stored for t in s.tools)


def test_a_streamed_generation_keeps_its_time_to_first_token(tmp_path):
    import json

    record = {"id": "t1", "observations": [{
        "id": "g1", "type": "GENERATION", "model": "gpt-4o", "startTime": "2025-01-01T00:00:00.000Z",
        "completionStartTime": "2025-01-01T00:00:00.250Z", "endTime": "2025-01-01T00:00:02.000Z",
        "input": [{"role": "user", "content": "hi"}], "output": {"role": "assistant", "content": "hello"},
        "modelParameters": {"temperature": 0.2, "stream": True}}]}
    root = tmp_path / "r"
    root.mkdir()
    (root / "promptloop.yaml").write_text("models: {default: local/smollm2}\n")
    (tmp_path / "lf.json").write_text(json.dumps(record))
    config = load_config(root)
    import_files(config, [tmp_path / "lf.json"])
    with TraceStore(store_path(config.cache_dir)) as store:
        [t] = store.query()
    assert (t.latency_ms, t.metadata["time_to_first_token_ms"]) == (2000.0, 250.0)
    assert t.params == {"temperature": 0.2} and t.metadata["request"] == {"stream": True}


def test_a_tool_answer_in_json_is_kept_as_written_whatever_its_items_hold():
    from promptloop.traces.formats.messages import norm_messages

    answer = '[{"type": "article", "title": "Example"}, {"type": "video", "url": "https://example.com"}]'
    [m] = norm_messages([{"role": "tool", "tool_call_id": "c1", "content": answer}])
    assert m == {"role": "tool", "content": answer, "tool_call_id": "c1"}
    [parts] = norm_messages([{"role": "user", "content": '[{"type": "text", "text": "hi"}]'}])
    assert parts["content"] == "hi"  # content parts written as JSON text are still read as parts
