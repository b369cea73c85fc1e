"""Traces matched to prompts, verdicts, and promotion into golden sets."""

from __future__ import annotations

import json

import yaml

from promptloop.flows.ingest import import_files
from promptloop.repo.prompts import load_golden, load_prompt
from promptloop.traces.store import TraceStore, store_path
from promptloop.traces.to_golden import append_cases, promote


def trec_trace(config, tid, question, output, **extra):
    prompt = load_prompt(config, "trec")
    return {"promptloop_trace": 1, "id": tid, "model": "gpt-x", "messages": prompt.render({"question": question}),
            "output": output, **extra}


def write(tmp_path, records):
    f = tmp_path / "traces.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in records))
    return f


def stored(config):
    with TraceStore(store_path(config.cache_dir)) as s:
        return {t.id.split(":", 1)[1]: t for t in s.query()}


def test_matched_to_prompt_with_variables_and_programmatic_verdict(config, tmp_path):
    f = write(tmp_path, [trec_trace(config, "a", "Who wrote {{Hamlet}} ?", "HUM"),
                         trec_trace(config, "b", "What is a cat ?", "I think it is an animal"),
                         {"promptloop_trace": 1, "id": "c", "messages": [{"role": "user", "content": "hi"}],
                          "output": "hello"}])
    s = import_files(config, [f])
    assert s.matched == 2
    t = stored(config)
    assert t["a"].prompt == "trec" and t["a"].inputs == {"question": "Who wrote {{Hamlet}} ?"}
    assert t["a"].prompt_version is None  # not a git repo here
    assert t["a"].verdict == "pass" and "label" in t["a"].reason
    assert t["b"].verdict == "fail" and "no single label" in t["b"].reason
    assert t["c"].prompt is None and t["c"].verdict == "unknown"


def test_explicit_feedback_beats_checks_and_retries_are_implicit(config, tmp_path):
    f = write(tmp_path, [
        trec_trace(config, "thumbs", "Q1 ?", "HUM", feedback=[{"kind": "thumbs", "value": False}]),
        trec_trace(config, "fixed", "Q2 ?", "HUM", feedback=[{"kind": "correction", "value": "LOC"}]),
        {"promptloop_trace": 1, "id": "r1", "time": "2026-01-01T10:00:00Z", "user_id": "u", "output": "x"},
        {"promptloop_trace": 1, "id": "r2", "time": "2026-01-01T10:01:00Z", "user_id": "u", "output": "y"},
        {"promptloop_trace": 1, "id": "r3", "time": "2026-01-01T11:00:00Z", "user_id": "u", "output": "z"},
    ])
    import_files(config, [f], retry_window=120)
    t = stored(config)
    assert t["thumbs"].verdict == "fail" and "thumbs down" in t["thumbs"].reason
    assert t["fixed"].verdict == "fail" and t["fixed"].expected == "LOC"
    with TraceStore(store_path(config.cache_dir)) as s:
        rows = dict(s.db.execute("SELECT id, verdict FROM traces WHERE id LIKE 'promptloop:r%'").fetchall())
    assert rows == {"promptloop:r1": "fail", "promptloop:r2": "unknown", "promptloop:r3": "unknown"}


def test_a_retry_in_a_later_import_marks_the_earlier_call(config, tmp_path):
    def rec(i, minute, user):
        return {"promptloop_trace": 1, "id": f"x{i}", "time": f"2026-01-01T10:{minute:02d}:00Z", "user_id": user,
                "output": "o"}

    first = write(tmp_path, [rec(1, 0, "u"), rec(2, 0, "v")])
    import_files(config, [first])
    later = tmp_path / "later.jsonl"
    later.write_text(json.dumps(rec(3, 1, "u")) + "\n")
    import_files(config, [later])
    with TraceStore(store_path(config.cache_dir)) as s:
        rows = dict(s.db.execute("SELECT id, verdict FROM traces WHERE id LIKE 'promptloop:x%'").fetchall())
    assert rows == {"promptloop:x1": "fail", "promptloop:x2": "unknown", "promptloop:x3": "unknown"}


def test_golden_add_appends_keeping_comments(config, repo, tmp_path):
    golden_file = repo / "golden" / "trec.yaml"
    before = golden_file.read_text()
    existing = load_golden(golden_file).cases[0].inputs["question"]
    f = write(tmp_path, [
        trec_trace(config, "c1", "Who painted the Mona Lisa ?", "LOC",
                   feedback=[{"kind": "correction", "value": "HUM"}]),
        trec_trace(config, "c2", "What is a key sk-proj-abcdefghijklmnopqrstuvwxyz12 ?", "nothing"),
        trec_trace(config, "c3", existing, "dunno"),
        trec_trace(config, "c4", "Where is Rome ?", "LOC"),
    ])
    import_files(config, [f])
    result = promote(config, "trec", failed=True)
    after = golden_file.read_text()
    assert after.startswith(before)  # comments, order and existing cases untouched: only appended
    added = yaml.safe_load(after[len(before):])
    assert [c["tags"] for c in added] == [["from-trace", "failed"], ["from-trace", "failed"]]
    assert added[0]["inputs"] == {"question": "Who painted the Mona Lisa ?"} and added[0]["expected"] == "HUM"
    assert added[1]["review"] is True and "expected" not in added[1]
    assert "sk-proj" not in after and "[REDACTED]" in added[1]["inputs"]["question"]
    assert len(result.added) == 1 and len(result.review) == 1
    assert any("already a golden case" in s for s in result.skipped)
    assert len(load_golden(golden_file).cases) == 40
    again = promote(config, "trec", failed=True)  # duplicates are skipped
    assert again.added == [] and golden_file.read_text() == after


def test_append_into_empty_and_middle_lists():
    text = "# head\ncases: []\n"
    out = append_cases(text, [{"id": "x", "inputs": {"a": 1}}])
    assert yaml.safe_load(out) == {"cases": [{"id": "x", "inputs": {"a": 1}}]} and out.startswith("# head\n")
    text = "cases:\n  - id: a\n    inputs: {}\n\n# trailing comment\ndescription: d\n"
    out = append_cases(text, [{"id": "b", "inputs": {}}])
    assert yaml.safe_load(out)["cases"] == [{"id": "a", "inputs": {}}, {"id": "b", "inputs": {}}]
    assert out.endswith("\n# trailing comment\ndescription: d\n")
