"""promptloop compare: the right verdict on traces built for each outcome."""

from __future__ import annotations

import json

import pytest

from promptloop.cli import app
from promptloop.errors import UsageError
from promptloop.flows.ingest import import_files
from promptloop.traces.canary import compare, required_n, wilson


def traces_file(tmp_path, arms):
    """arms: {version: (passes, fails)} -> promptloop JSONL with thumbs feedback."""
    lines, n = [], 0
    for version, (passes, fails) in arms.items():
        for i in range(passes + fails):
            n += 1
            lines.append(json.dumps({"promptloop_trace": 1, "id": f"{version}-{i}", "prompt": "trec",
                                     "prompt_version": version, "output": "NUM", "latency_ms": 100 + i,
                                     "cost_usd": 0.001 if version == "v1" else 0.0005,
                                     "feedback": [{"kind": "thumbs", "value": i < passes}]}))
    f = tmp_path / "canary.jsonl"
    f.write_text("\n".join(lines) + "\n")
    return f


@pytest.mark.parametrize("arms,verdict", [
    ({"v1": (300, 100), "v2": (370, 30)}, "promote"),
    ({"v1": (370, 30), "v2": (300, 100)}, "hold"),
    ({"v1": (8, 2), "v2": (9, 1)}, "not enough traffic"),
    ({"v1": (60, 40), "v2": (66, 34)}, "not enough traffic"),
])
def test_verdicts(config, tmp_path, arms, verdict):
    import_files(config, [traces_file(tmp_path, arms)])
    c = compare(config, "trec", "v1", "v2")
    assert c.verdict == verdict, c.reason
    if verdict == "not enough traffic":
        assert c.more_needed > 0
    assert c.a.traces == sum(arms["v1"]) and c.b.cost_per_call == pytest.approx(0.0005)
    lo, hi = c.b.interval
    assert lo < c.b.rate < hi


def test_equal_versions_with_lots_of_traffic_hold(config, tmp_path):
    import_files(config, [traces_file(tmp_path, {"v1": (6000, 1500), "v2": (6000, 1500)})])
    c = compare(config, "trec", "v1", "v2")
    assert c.verdict == "hold" and "no difference" in c.reason and c.more_needed == 0


def test_unknown_version_lists_known(config, tmp_path):
    import_files(config, [traces_file(tmp_path, {"v1": (3, 1)})])
    with pytest.raises(UsageError, match="versions seen: v1"):
        compare(config, "trec", "v1", "v9")


def test_cli_compare(cli, config, repo, tmp_path):
    import_files(config, [traces_file(tmp_path, {"v1": (300, 100), "v2": (370, 30)})])
    r = cli.invoke(app, ["-C", str(repo), "compare", "trec", "--versions", "v1", "v2"])
    assert r.exit_code == 0 and "promote" in r.output
    r = cli.invoke(app, ["-C", str(repo), "compare", "trec", "--versions", "v1", "v2", "--json"])
    assert json.loads(r.output)["b"]["pass_rate"] == pytest.approx(370 / 400)


def test_stats_helpers():
    lo, hi = wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)
    assert required_n(0.5, 0.6, 0.1) == 385
