"""The Python API: load a prompt at an exact version, record calls, and close the loop on import."""

from __future__ import annotations

import json
import threading
import time

import pytest
import yaml

import promptloop
from promptloop.cli import app
from promptloop.errors import ConfigError
from promptloop.flows.ingest import import_files
from promptloop.repo.config import load_config
from promptloop.testing import FakeServer
from promptloop.traces.store import TraceStore, store_path
from promptloop.traces.to_golden import promote
from tests.gitrepo import commit_files, git, init_repo

PROMPT = """\
model: {temperature: 0, max_tokens: 4}
inputs: [q]
messages:
  - role: system
    content: Answer A or B.
  - role: user
    content: "Item: {{q}}"
assertions:
  - type: label
    value: [A, B]
"""
GOLDEN = "cases:\n  - {id: c1, inputs: {q: one}, expected: A}\n"


@pytest.fixture
def arepo(tmp_path):
    root = tmp_path / "app"
    init_repo(root, {"promptloop.yaml": "models:\n  default: openai/gpt-4o-mini\n", "prompts/cls.yaml": PROMPT,
                     "golden/cls.yaml": GOLDEN, ".gitignore": ".promptloop/\n"})
    return root


def test_public_api_is_exactly_what_all_says():
    for name in promptloop.__all__:
        assert getattr(promptloop, name) is not None
    assert set(promptloop.__all__) >= {"load", "record", "feedback", "bundle", "LiteLLMRecorder", "span_attributes"}


def test_load_renders_and_its_version_is_the_git_blob(arepo):
    p = promptloop.load("cls", repo=arepo)
    assert p.version == git(arepo, "rev-parse", "HEAD:prompts/cls.yaml").strip()
    assert p.render(q="x") == [{"role": "system", "content": "Answer A or B."}, {"role": "user", "content": "Item: x"}]
    params = dict(p.params)
    # a label prompt decodes under its labels, in the app exactly as in eval
    assert params.pop("response_format")["json_schema"]["schema"]["properties"]["answer"]["enum"] == ["A", "B"]
    assert params == {"model": "openai/gpt-4o-mini", "temperature": 0, "max_tokens": 4}
    req = p.request(q="x")
    assert req["messages"][1]["content"] == "Item: x" and req["metadata"]["promptloop_version"] == p.version
    with pytest.raises(promptloop.MissingInputs, match="'q'"):
        p.render()


def test_load_from_a_ref_leaves_the_checkout_alone(arepo):
    old = promptloop.load("cls", repo=arepo)
    commit_files(arepo, {"prompts/cls.yaml": PROMPT.replace("Answer A or B.", "Answer A or B only.")}, "v2")
    (arepo / "prompts" / "cls.yaml").write_text(PROMPT.replace("Answer", "Reply"))  # uncommitted edit
    status = git(arepo, "status", "--porcelain")
    at_first = promptloop.load("cls", repo=arepo, ref="HEAD~1")
    assert at_first.version == old.version and at_first.text == PROMPT
    assert promptloop.load("cls", repo=arepo).render(q="z")[0]["content"] == "Reply A or B."
    assert git(arepo, "status", "--porcelain") == status


def test_bundle_round_trips_without_git(arepo, tmp_path, cli):
    out = tmp_path / "ship" / "prompts.json"
    r = cli.invoke(app, ["-C", str(arepo), "bundle", "-o", str(out)])
    assert r.exit_code == 0, r.output
    shipped = promptloop.load("cls", bundle=out)
    assert shipped.version == promptloop.load("cls", repo=arepo).version
    assert shipped.render(q="y")[1]["content"] == "Item: y"
    data = json.loads(out.read_text())
    data["prompts"][0]["text"] += "# tampered\n"
    out.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="does not match its version"):
        promptloop.load("cls", bundle=out)


def test_a_trace_of_an_old_version_imports_with_that_version_and_becomes_a_golden_case(arepo, tmp_path):
    sink = tmp_path / "traces.jsonl"
    old = promptloop.load("cls", repo=arepo)
    tid = promptloop.record(old, {"q": "two"}, "A", model="openai/gpt-4o-mini", latency_ms=12.5,
                            tokens={"input": 9, "output": 1}, session_id="s1", sink=sink,
                            metadata={"api_key": "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"})
    assert promptloop.feedback(tid, thumbs=False, correction="B", sink=sink)
    # The prompt then changes: template matching could no longer recognise the old trace.
    commit_files(arepo, {"prompts/cls.yaml": PROMPT.replace("Item: {{q}}", "Classify: {{q}}")}, "v2")
    assert "sk-proj-abcdef" not in sink.read_text()  # masked before it was written
    config = load_config(arepo)
    s = import_files(config, [sink])
    assert s.imported == 1 and s.feedback == 2 and not s.problems  # thumbs and correction
    with TraceStore(store_path(config.cache_dir)) as store:
        [t] = store.query(prompt="cls")
    assert t.prompt_version == old.version and t.inputs == {"q": "two"} and t.verdict == "fail"
    assert t.expected == "B" and t.latency_ms == 12.5 and t.session_id == "s1"
    added = promote(config, "cls", failed=True)
    assert len(added.added) == 1
    cases = yaml.safe_load((arepo / "golden" / "cls.yaml").read_text())["cases"]
    assert cases[-1]["inputs"] == {"q": "two"} and cases[-1]["expected"] == "B"


def test_an_unknown_version_is_reported(arepo, tmp_path):
    sink = tmp_path / "t.jsonl"
    p = promptloop.load("cls", repo=arepo)
    forged = promptloop.LoadedPrompt(name="cls", version="0" * 40, text=p.text, model=p.model, prompt=p.prompt)
    promptloop.record(forged, {"q": "x"}, "A", sink=sink)
    s = import_files(load_config(arepo), [sink])
    assert s.imported == 1 and any("0000000000" in x and "none of this repo's commits" in x for x in s.problems)


def test_the_sink_rotates_is_safe_across_threads_and_never_raises(tmp_path, caplog):
    sink = promptloop.TraceSink(tmp_path / "t.jsonl", max_bytes=20_000, backups=3)
    p_text = PROMPT

    class Fake:
        name, version, model, params, text = "cls", "v", "m", {"model": "m"}, p_text

        @staticmethod
        def render(**inputs):
            return [{"role": "user", "content": inputs["q"]}]

    def worker(i: int) -> None:
        for j in range(50):
            promptloop.record(Fake(), {"q": f"{i}-{j}"}, "A", sink=sink)  # type: ignore[arg-type]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    files = sorted(tmp_path.glob("t.jsonl*"))
    lines = [ln for f in files for ln in f.read_text().splitlines()]
    assert len(files) > 1 and all(json.loads(ln)["promptloop_trace"] == 1 for ln in lines)  # no torn lines
    assert len(files) <= 4
    blocked = promptloop.TraceSink(tmp_path / "t.jsonl" / "cannot-be-a-file")
    assert blocked.write({"x": 1}) is False and "dropped" in caplog.text


def test_litellm_recorder_records_a_call_against_a_local_server(arepo, tmp_path, monkeypatch):
    import litellm

    sink = tmp_path / "llm.jsonl"
    p = promptloop.load("cls", repo=arepo)
    monkeypatch.setattr(litellm, "callbacks", [promptloop.LiteLLMRecorder(sink)])
    with FakeServer(answer=lambda b: "B") as server:
        reply = litellm.completion(**p.request(q="three"), api_base=server.api_base, api_key="sk-test")
    assert reply.choices[0].message.content == "B"
    for _ in range(100):  # litellm runs success callbacks in a background thread
        if sink.exists() and sink.read_text().strip():
            break
        time.sleep(0.05)
    entry = json.loads(sink.read_text().splitlines()[0])
    assert entry["prompt"] == "cls" and entry["prompt_version"] == p.version and entry["inputs"] == {"q": "three"}
    assert entry["output"] == "B"


def test_span_attributes_give_an_exact_match_on_otlp_import(arepo, tmp_path):
    p = promptloop.load("cls", repo=arepo)
    attrs = {**promptloop.span_attributes(p), "gen_ai.request.model": "gpt-4o-mini",
             "gen_ai.input.messages": json.dumps(p.render(q="four")), "gen_ai.output.messages": json.dumps(
                 [{"role": "assistant", "content": "A"}])}
    span = {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "ab" * 16, "spanId": "cd" * 8, "name": "chat", "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000500000000",
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()]}]}]}]}
    f = tmp_path / "otel.jsonl"
    f.write_text(json.dumps(span) + "\n")
    config = load_config(arepo)
    import_files(config, [f])
    with TraceStore(store_path(config.cache_dir)) as store:
        [t] = store.query(prompt="cls")
    assert t.prompt_version == p.version
