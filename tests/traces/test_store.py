"""The trace store keeps each long message text once, and gives every trace back whole."""

from __future__ import annotations

import json
import sqlite3

import pytest

from promptloop.errors import ConfigError
from promptloop.flows.ingest import import_files
from promptloop.traces.store import LONG_TEXT, Trace, TraceStore, row_of, store_path

SYSTEM = "You sort support tickets by what the customer needs next. " * 8  # a long prompt, repeated in each call


def call(n: int, system: str = SYSTEM) -> dict:
    return {"promptloop_trace": 1, "id": f"c{n}", "model": "m", "output": "billing",
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": f"ticket {n}"}]}


def write(path, records) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_system_prompt_repeated_in_every_call_is_stored_once(config, tmp_path, workers):
    assert len(SYSTEM) >= LONG_TEXT
    other = "A different prompt for the same app, long enough to be kept apart. " * 5
    f = tmp_path / "calls.jsonl"
    write(f, [call(n) for n in range(30)] + [call(30, other)])
    # with two workers: packed blocks carry the texts
    s = import_files(config, [f], workers=workers, parallel_min=0, block_bytes=4000)
    assert s.imported == 31
    path = store_path(config.cache_dir)
    db = sqlite3.connect(path)
    assert sorted(t for (t,) in db.execute("SELECT text FROM texts")) == sorted([SYSTEM, other])
    assert all(SYSTEM not in data for (data,) in db.execute("SELECT data FROM traces"))
    db.close()
    with TraceStore(path) as store:
        got = {t.id: t for t in store.query()}
    assert got["promptloop:c7"].messages == call(7)["messages"]
    assert got["promptloop:c30"].messages[0]["content"] == other


def test_updated_traces_and_rows_written_before_texts_were_kept_apart_read_whole(tmp_path):
    with TraceStore(tmp_path / "s.sqlite") as store:
        t = Trace(id="a", source="promptloop", messages=[{"role": "system", "content": SYSTEM}], output="x")
        store.add(t)
        t.verdict, t.reason = "fail", "thumbs down"
        store.update(t)
        # A store written before long texts were kept apart holds them inline: still read as they are.
        old = Trace(id="b", source="promptloop", messages=[{"role": "system", "content": SYSTEM}])
        store.add_row(row_of(old, old.to_json()))
        store.commit()
        a, b = store.get("a"), store.get("b")
    assert a is not None and b is not None
    assert a.messages == b.messages == [{"role": "system", "content": SYSTEM}] and a.verdict == "fail"


def test_a_store_missing_a_text_says_it_is_damaged_and_what_to_do(tmp_path):
    path = tmp_path / "s.sqlite"
    with TraceStore(path) as store:
        store.add(Trace(id="a", source="promptloop", messages=[{"role": "system", "content": SYSTEM}]))
        store.db.execute("DELETE FROM texts")
        store.commit()
        with pytest.raises(ConfigError, match=r"trace a refers to a message text .* import the traces again"):
            store.get("a")


def test_calls_orjson_refuses_are_imported_and_stored_whole(config, tmp_path):
    """orjson refuses integers beyond 64 bits and lone surrogates. json reads those lines instead, a lone
    surrogate (which UTF-8, and so SQLite, cannot hold) as U+FFFD, and json writes the trace as the same
    object of fields orjson would have written: the call is stored, not lost with its batch."""
    huge = 2**70
    line = ('{"promptloop_trace": 1, "id": "odd", "model": "m", "output": "x\\ud800y", "metadata": {"n": '
            + str(huge) + '}, "messages": [{"role": "system", "content": "' + SYSTEM + '"}]}')
    f = tmp_path / "odd.jsonl"
    f.write_text(line + "\n")
    s = import_files(config, [f])
    assert (s.imported, s.skipped) == (1, 0)
    with TraceStore(store_path(config.cache_dir)) as store:
        got = store.get("promptloop:odd")
    assert got is not None and (got.output, got.metadata["n"]) == ("x\ufffdy", huge)
    assert got.messages[0]["content"] == SYSTEM


def test_traces_of_an_unknown_prompt_is_an_input_error_naming_the_known_ones(cli, repo):
    from promptloop.cli import app

    r = cli.invoke(app, ["-C", str(repo), "traces", "trce"])
    assert r.exit_code == 2 and "no prompt 'trce'" in r.output
    assert "known: bfcl, gsm8k, hotel_slots, trec" in r.output
    assert cli.invoke(app, ["-C", str(repo), "traces", "trec"]).exit_code == 0  # known, no traffic yet: not an error


def test_the_tools_of_an_agent_are_stored_once_and_read_back_whole(tmp_path):
    tools = [{"type": "function", "function": {"name": f"tool_{i}", "description": "d" * 80,
                                               "parameters": {"type": "object"}}} for i in range(3)]
    with TraceStore(tmp_path / "t.sqlite") as store:
        for i in range(5):
            store.add(Trace(id=f"t{i}", source="test", messages=[{"role": "user", "content": "hi"}], output="ok",
                            tools=tools))
        store.commit()
        assert [t.tools for t in store.query()] == [tools] * 5
        assert store.db.execute("SELECT count(*) FROM texts").fetchone()[0] == 1
