"""Sharded eval: N shard reports merged equal the unsharded report, case for case and metric for metric."""

from __future__ import annotations

import json

from promptloop.cli import app
from promptloop.scoring.shards import shard_of
from promptloop.testing import FakeServer
from tests.conftest import point_at


def answer(body):
    text = body["messages"][-1]["content"]
    return "NUM" if sum(map(ord, text)) % 3 else "LOC"


def test_shards_merge_into_the_unsharded_report(cli, repo, tmp_path):
    (repo / "promptloop.yaml").write_text((repo / "promptloop.yaml").read_text() + "thresholds: {accuracy: 0.99}\n")
    with FakeServer(answer=answer) as server:
        point_at(repo, server.api_base)
        whole = cli.invoke(app, ["-C", str(repo), "eval", "trec", "--json"])
        assert whole.exit_code == 1  # the threshold gates the whole run
        paths = []
        for i in (1, 2, 3):
            r = cli.invoke(app, ["-C", str(repo), "eval", "trec", "--json", "--shard", f"{i}/3"])
            assert r.exit_code == 0, r.output  # a shard gates nothing on its own
            paths.append(tmp_path / f"s{i}.json")
            paths[-1].write_text(r.stdout)
        merged = cli.invoke(app, ["merge", *map(str, paths), "--json", "-o", str(tmp_path / "m.junit.xml")])
    assert merged.exit_code == 1
    a, b = json.loads(whole.stdout), json.loads(merged.stdout)
    assert a["metrics"] == b["metrics"] and a["labels"] == b["labels"]
    assert (a["passed"], a["failed"], a["errors"]) == (b["passed"], b["failed"], b["errors"])
    assert sorted(x["id"] for x in a["results"]) == sorted(x["id"] for x in b["results"])
    assert a["missed_thresholds"] == b["missed_thresholds"]
    sizes = [len(json.loads(p.read_text())["results"]) for p in paths]
    assert sum(sizes) == len(a["results"]) and all(sizes)


def test_merge_refuses_an_incomplete_or_doubled_set(cli, repo, tmp_path):
    with FakeServer(answer=answer) as server:
        point_at(repo, server.api_base)
        r = cli.invoke(app, ["-C", str(repo), "eval", "trec", "--json", "--shard", "1/2"])
    (tmp_path / "a.json").write_text(r.stdout)
    m = cli.invoke(app, ["merge", str(tmp_path / "a.json")])
    assert m.exit_code == 2 and "do not make one whole run" in m.output
    m = cli.invoke(app, ["merge", str(tmp_path / "a.json"), str(tmp_path / "a.json")])
    assert m.exit_code == 2


def test_assignment_is_stable_when_cases_are_added():
    ids = [f"case-{i}" for i in range(1000)]
    before = {i: shard_of(i, 4) for i in ids}
    assert {shard_of(i, 4) for i in ids} == {1, 2, 3, 4}
    assert all(shard_of(i, 4) == before[i] for i in ids)  # adding case-1000.. moves none of these
    assert 200 < sum(1 for v in before.values() if v == 1) < 300


def test_merge_refuses_files_that_are_not_shard_reports(cli, tmp_path):
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "part.json").write_text('{"prompt": "trec"}')
    for name in ("list.json", "part.json"):
        r = cli.invoke(app, ["merge", str(tmp_path / name)])
        assert r.exit_code == 2 and "not the JSON report of one eval or regress shard" in r.output
