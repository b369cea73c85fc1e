"""Every trace sample imports with the right messages, output, model, usage and feedback."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from promptloop.flows.ingest import import_files
from promptloop.traces.store import TraceStore, store_path


def without_ids(calls: list[dict]) -> list[dict]:
    return [{k: v for k, v in c.items() if k != "id"} for c in calls]


FIX = Path(__file__).parent.parent / "fixtures" / "traces"


def load(config, *names, **kw):
    summary = import_files(config, [FIX / n for n in names], **kw)
    with TraceStore(store_path(config.cache_dir)) as store:
        traces = {t.id: t for t in store.query()}
    return summary, traces


def only(traces, prefix):
    found = [t for i, t in traces.items() if i.startswith(prefix)]
    assert len(found) == 1, list(traces)
    return found[0]


def test_openai_chat_log_with_tool_calls(config):
    s, traces = load(config, "openai_chat_completions.jsonl")
    assert s.imported == 13 and s.duplicates == 0 and s.skipped == 0
    t = traces["openai:chatcmpl-9stUCA2DFu5JlHuj9RGC8Z6SCAPf9"]
    assert t.messages == [{"role": "user", "content": "John Doe is 30 years old."}]
    assert without_ids(t.output["tool_calls"]) == [{"name": "UserInfo", "arguments": {"name": "John Doe", "age": 30}}]
    assert all(c["id"] for c in t.output["tool_calls"])  # the call ids are kept: tool results refer to them
    assert (t.model, t.input_tokens, t.output_tokens) == ("gpt-3.5-turbo-0125", 79, 10)
    assert t.time == "2024-08-05T15:00:28Z"


def test_vcr_cassettes_match_the_derived_log(config):
    s, traces = load(config, "openai_chat_completions.jsonl",
                     "openai_chat_cassettes/test_tool_calls__test_tool_calls.yaml",
                     "openai_chat_cassettes/test_instrumentor__test_compilation.yaml")
    assert s.imported == 13 and s.duplicates == 11  # the cassettes are the same calls: nothing added twice
    t = traces["openai:chatcmpl-DD5NFnwbig885vzBzWKxq6GtDvWda"]
    assert without_ids(t.messages[0]["tool_calls"])[0] == {"name": "get_weather", "arguments": {"city": "New York"}}
    assert t.messages[1] == {"role": "tool", "content": '{"city": "New York", "weather": "fine"}',
                             "tool_call_id": "call_62136355"}


def test_openai_batch_joined_by_custom_id(config):
    s, traces = load(config, "openai_batch_input.jsonl", "openai_batch_output.jsonl")
    assert s.imported == 2 and not s.problems
    t = traces["openai-batch:batch_req_6769ca596b38819093d7ae9f522de924"]
    assert t.messages == [{"role": "system", "content": "You are a helpful assistant."},
                          {"role": "user", "content": "Hello world!"}]
    assert t.output == "Hello! How can I assist you today?"
    assert (t.model, t.input_tokens, t.output_tokens, t.params) == ("gpt-4o-mini-2024-07-18", 20, 10,
                                                                   {"max_tokens": 10})
    assert t.metadata["custom_id"] == "request-1"


def test_batch_input_alone_is_reported(config):
    s, _ = load(config, "openai_batch_input.jsonl")
    assert s.imported == 0 and s.skipped == 2 and "has no output" in s.problems[0]


def test_openai_eval_output_items(config):
    _, traces = load(config, "openai_eval_run_output_items.json")
    t = only(traces, "openai-eval:")
    assert t.messages[0]["role"] == "system" and t.messages[0]["content"].startswith("Categorize a given news")
    assert t.messages[1] == {"role": "user", "content": "Stock Markets Rally After Positive Economic Data Released"}
    assert t.output == "Markets" and t.expected == "Markets"
    assert (t.model, t.input_tokens, t.output_tokens) == ("gpt-4o-mini-2024-07-18", 323, 2)
    assert t.feedback[0].kind == "eval" and t.feedback[0].value is True
    assert t.verdict == "pass" and t.params["seed"] == 42


def test_langfuse_correction_and_scores(config):
    s, traces = load(config, "langfuse/pydantic-ai-2025-06-06.trace.json",
                     "langfuse/google-gemini-2025-08-01.trace.json")
    assert s.imported == 2
    p = traces["langfuse:25f4bdeebaab60e6e1bee7e8469554bc:5cb389a3bdd21a6e"]
    assert p.messages[0] == {"role": "system",
                             "content": "You are a helpful assistant that answers questions clearly and concisely."}
    assert p.messages[1] == {"role": "user", "content": "What is Langfuse?"}
    assert p.output.startswith("Langfuse is a tool designed for observability")
    assert (p.model, p.input_tokens, p.output_tokens, p.latency_ms, p.cost_usd) == ("gpt-4o", 31, 96, 4794.0,
                                                                                    0.0010375)
    assert (p.user_id, p.session_id) == ("user_123", "session_abc")
    assert p.verdict == "pass" and "correction" in p.reason  # the correction equals the output
    g = traces["langfuse:9f2f0fe0228fd81a9fe75882934b384a:b7a63ca7e1d083bc"]
    assert g.messages == [{"role": "user", "content": "What is Langfuse?"}]
    assert g.output.startswith("**Langfuse** is an **open-source observability")
    assert (g.model, g.input_tokens, g.output_tokens, g.latency_ms) == ("gemini-2.5-flash", 6, 2055, 12032.0)
    assert g.verdict == "pass" and "hallucination" in g.reason  # low hallucination is good


def test_langsmith_post_and_patch_merged(config):
    _, traces = load(config, "langsmith/langsmith_js_wrap_openai_default.json")
    t = traces["langsmith:dc34609e-3eeb-459d-bc2a-6fedb01d2e6e"]
    assert t.messages == [{"role": "user", "content": "howdy"}]
    assert t.output == "Howdy! How can I assist you today?"
    assert (t.model, t.input_tokens, t.output_tokens, t.latency_ms) == ("gpt-4o-mini-2024-07-18", 9, 9,
                                                                        pytest.approx(1115, abs=1))


def test_mlflow_trace_and_separate_assessment(config):
    s, traces = load(config, "mlflow/mlflow_v3_trace.from_v2_fixture.json")
    t = only(traces, "mlflow:58f4e27101304034b15c512b603bf1b2")
    assert t.inputs == {"z": 7} and t.output == "8" and t.verdict == "unknown"
    assert t.metadata["span_name"] == "add_one_with_custom_name"
    s, traces = load(config, "mlflow/mlflow_feedback_assessment.generated.json")
    assert s.feedback == 1
    t = only(traces, "mlflow:58f4e27101304034b15c512b603bf1b2")
    assert t.verdict == "pass" and "thumbs up 'user_thumbs'" in t.reason


def test_openinference_nested_and_flattened(config):
    s, traces = load(config, "openinference/openinference_spans.jsonl",
                     "openinference/openinference_client_span_tool_calls.json")
    assert s.imported == 5 and len(s.problems) == 2 and "CHAIN span" in s.problems[0]
    tool = next(t for t in traces.values() if t.output_text.startswith('{"tool_calls"'))
    assert tool.output == {"tool_calls": [{"name": "multiply", "arguments": {"a": 23, "b": 87}}]}
    assert tool.messages[1] == {"role": "user", "content": "what is 23 times 87"}
    assert (tool.model, tool.input_tokens, tool.output_tokens, tool.params) == (
        "gpt-3.5-turbo-0613", 229, 21, {"temperature": 0.1})
    assert tool.latency_ms == pytest.approx(534.78, abs=0.01)
    flat = next(t for t in traces.values() if t.model == "gpt-4-0613")
    assert flat.messages[0] == {"role": "user", "content": "Weather in Paris?"}
    assert without_ids(flat.messages[1]["tool_calls"]) == [{"name": "get_weather", "arguments": {"location": "Paris"}}]
    assert flat.messages[1]["tool_calls"][0]["id"] == "1234"
    assert flat.messages[2] == {"role": "tool", "content": "rainy, 57°F", "tool_call_id": "1234"}
    assert flat.output == "The weather in Paris is currently rainy with a temperature of 57°F."
    assert (flat.input_tokens, flat.output_tokens) == (97, 52)
    legacy = next(t for t in traces.values() if t.model == "babbage:2023-07-21-v2")
    assert legacy.messages[0]["content"].startswith("def fib(n):") and legacy.output.startswith(" + fib(n-3)")


def test_otlp_genai_vendor_payloads(config):
    s, traces = load(config, "otel_genai/langfuse_otel_test_payloads.jsonl",
                     "otel_genai/otel_genai_client_span_tool_calls.json")
    assert s.imported == 4 and not s.problems
    openlit = next(t for t in traces.values() if t.id.endswith(":openai.chat.completions"))
    assert openlit.id.startswith("otel:ea673708441c2984a54a3e3962d3595f:b904bffb20be6d7e")  # Buffer ids -> hex
    assert openlit.messages == [{"role": "user", "content": "What is LLM Observability?"}]  # event form
    assert openlit.output.startswith("LLM Observability stands for logs")
    assert (openlit.model, openlit.input_tokens, openlit.output_tokens, openlit.cost_usd) == (
        "gpt-3.5-turbo", 14, 96, 0.000151)  # protobufjs {low, high} integers
    assert openlit.latency_ms == pytest.approx(1174.15, abs=0.01)
    assert "max_tokens" not in openlit.params and openlit.params["temperature"] == 1
    traceloop = next(t for t in traces.values() if t.model == "gpt-3.5-turbo-0125")  # deprecated gen_ai.prompt.N
    assert traceloop.messages == [{"role": "user", "content": "What is LLM Observability?"}]
    assert traceloop.output.startswith("LLM Observability (Logs, Metrics, and Traces Observability)")
    assert (traceloop.input_tokens, traceloop.output_tokens) == (14, 173)
    sk = next(t for t in traces.values() if t.id.endswith(":chat_completion"))  # gen_ai.*.message events
    assert sk.messages == [{"role": "system", "content": "You are a helpful assistant."},
                           {"role": "user", "content": "What is the capital of France?"}]
    assert sk.output == "The capital of France is Paris." and sk.model == "gpt-4-0613"
    current = next(t for t in traces.values() if t.model == "gpt-4-0613" and t.id.startswith("otel:") and t is not sk)
    # gen_ai.input.messages parts: the result with the id of its call
    assert current.messages[2] == {"role": "tool", "content": "rainy, 57°F", "tool_call_id": "1234"}
    assert current.output == "The weather in Paris is currently rainy with a temperature of 57°F."


def test_reimport_is_idempotent_and_gzip_works(config, tmp_path):
    gz = tmp_path / "log.jsonl.gz"
    gz.write_bytes(gzip.compress((FIX / "openai_chat_completions.jsonl").read_bytes()))
    first = import_files(config, [gz])
    again = import_files(config, [gz, FIX / "openai_chat_completions.jsonl"])
    assert first.imported == 13 and again.imported == 0 and again.duplicates == 26


def test_malformed_lines_reported_and_rest_imported(config, tmp_path):
    good = (FIX / "openai_chat_completions.jsonl").read_text().splitlines()
    bad = tmp_path / "mixed.jsonl"
    bad.write_text("\n".join([good[0], "{not json", json.dumps({"hello": 1}), good[1]]) + "\n")
    s = import_files(config, [bad])
    assert s.imported == 2 and s.skipped == 2
    assert s.problems[0].startswith(f"{bad}:2: invalid JSON")
    assert s.problems[1].startswith(f"{bad}:3: unrecognised record") and "--format" in s.problems[1]


def test_secrets_never_stored(config, tmp_path):
    rec = {"promptloop_trace": 1, "id": "s1", "model": "m", "output": "ok",
           "messages": [{"role": "user", "content": "my key is sk-proj-abcdefghijklmnopqrstuvwxyz123456"}],
           "metadata": {"auth": "Bearer abcdefghijklmnopqrstuvwxyz"}}
    f = tmp_path / "t.jsonl"
    f.write_text(json.dumps(rec) + "\n")
    import_files(config, [f])
    raw = store_path(config.cache_dir).read_bytes()
    assert b"sk-proj-abcdefghijklmnop" not in raw and b"abcdefghijklmnopqrstuvwxyz" not in raw


def test_parallel_import_equals_sequential(config, repo, tmp_path):
    """Large JSONL files are parsed in worker processes; the store must come out the same."""
    import shutil

    from promptloop.repo.config import load_config

    lines = []
    for name in ("openai_chat_completions.jsonl", "openai_batch_input.jsonl", "openai_batch_output.jsonl",
                 "openinference/openinference_spans.jsonl", "otel_genai/langfuse_otel_test_payloads.jsonl"):
        lines += (FIX / name).read_text().splitlines()
    lines.insert(3, "{broken")
    big = tmp_path / "mixed.jsonl"
    big.write_text("\n".join(lines) + "\n")
    seq = import_files(config, [big], workers=1)

    other = tmp_path / "other"
    shutil.copytree(repo, other)
    shutil.rmtree(other / ".promptloop")
    cfg2 = load_config(other)
    # blocks of a few lines, and lines longer than one
    par = import_files(cfg2, [big], workers=2, parallel_min=0, block_bytes=700)
    assert (par.imported, par.skipped, par.duplicates) == (seq.imported, seq.skipped, seq.duplicates)
    assert par.problems == seq.problems and any(":4: invalid JSON" in p for p in par.problems)
    with TraceStore(store_path(config.cache_dir)) as a, TraceStore(store_path(cfg2.cache_dir)) as b:
        assert [t.to_json() for t in a.query()] == [t.to_json() for t in b.query()]
        assert any(t.source == "openai_batch" for t in b.query())


def test_parallel_import_counts_duplicates_and_conflicts_like_sequential(config, repo, tmp_path):
    """Worker blocks reach the store as packed SQLite images: re-imported calls still count as duplicates,
    and a different call under a stored id is still reported, exactly as the in-process path does."""
    import shutil

    from promptloop.repo.config import load_config

    lines = (FIX / "openai_chat_completions.jsonl").read_text().splitlines()
    clash = json.loads(lines[0])
    clash["response"]["choices"][0]["message"]["content"] = "a different answer under the same id"
    big = tmp_path / "again.jsonl"
    big.write_text("\n".join([*lines, *lines, json.dumps(clash)]) + "\n")
    seq = import_files(config, [big], workers=1)
    assert seq.duplicates == len(lines) + 1 and any("share the trace id" in p for p in seq.problems)

    other = tmp_path / "other"
    shutil.copytree(repo, other)
    shutil.rmtree(other / ".promptloop")
    par = import_files(load_config(other), [big], workers=2, parallel_min=0, block_bytes=2000)
    assert (par.imported, par.duplicates, par.problems) == (seq.imported, seq.duplicates, seq.problems)
    again = import_files(load_config(other), [big], workers=2, parallel_min=0, block_bytes=2000)
    assert (again.imported, again.duplicates) == (0, 2 * len(lines) + 1)


def test_stored_completion_and_langsmith_feedback_records(config, tmp_path):
    completion = {"id": "chatcmpl-stored1", "object": "chat.completion", "created": 1730000000, "model": "gpt-4o",
                  "metadata": {"user_id": "u1"},
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris"}}],
                  "usage": {"prompt_tokens": 12, "completion_tokens": 1},
                  "input_messages": [{"role": "user", "content": "Capital of France?"}]}
    run = {"id": "run-1", "run_type": "llm", "name": "ChatOpenAI", "start_time": "2026-01-01T00:00:00Z",
           "end_time": "2026-01-01T00:00:02Z", "inputs": {"messages": [{"role": "user", "content": "hi"}]},
           "outputs": {"generations": [[{"text": "hello"}]]}, "extra": {"metadata": {"ls_model_name": "m"}}}
    feedback = {"id": "fb-1", "run_id": "run-1", "key": "correctness", "score": 0,
                "correction": {"output": "hello there"}}
    f = tmp_path / "mixed.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in (completion, run, feedback)) + "\n")
    s, traces = load(config, str(f))
    assert s.imported == 2 and s.feedback == 1
    c = traces["openai:chatcmpl-stored1"]
    assert (c.output, c.model, c.input_tokens, c.user_id) == ("Paris", "gpt-4o", 12, "u1")
    assert c.messages == [{"role": "user", "content": "Capital of France?"}]
    r = traces["langsmith:run-1"]
    assert (r.output, r.model, r.latency_ms) == ("hello", "m", 2000.0)
    assert r.verdict == "fail" and "corrected" in r.reason and r.expected == "hello there"


def test_non_utf8_line_reported_rest_imported(config, tmp_path):
    good = (FIX / "openai_chat_completions.jsonl").read_bytes().splitlines()
    f = tmp_path / "latin1.jsonl"
    f.write_bytes(b"\n".join([good[0], b'{"id": "caf\xe9"}', good[1]]) + b"\n")
    s = import_files(config, [f])
    assert s.imported == 2 and s.skipped == 1
    assert s.problems[0].startswith(f"{f}:2: not UTF-8 text")
