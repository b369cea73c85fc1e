"""promptloop regress, log, diff and rollback in real temporary git repositories."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET

import pytest

from promptloop.cli import app
from promptloop.errors import UsageError
from promptloop.flows.regress import regress
from promptloop.git.history import diff, rollback, versions
from promptloop.repo.config import load_config
from tests.classifier import (  # noqa: F401
    CASES,
    CONFIG,
    OTHER,
    PROMPT,
    answer,
    fake,
    golden_yaml,
    served,
    with_system,
)
from tests.gitrepo import commit_files, git, snapshot


def run_regress(root, client, **kw):
    return asyncio.run(regress(load_config(root), client, base=kw.pop("base", "base"), **kw))


def test_harmless_change_passes_without_scoring_unchanged(rrepo):
    (rrepo / "prompts" / "cls.yaml").write_text(with_system("Classify the item, please. MAGIC"))
    client = fake()
    report = run_regress(rrepo, client)
    assert report.ok and [p.name for p in report.prompts] == ["cls"] and report.unchanged == ["other"]
    assert len(client.history) == 20  # base and new, 10 cases each
    assert not any("Other prompt" in r.messages[0]["content"] for r in client.history)
    assert report.prompts[0].paired.regressed == [] and len(report.prompts[0].paired.still_passing) == 10


def test_no_change_no_call(rrepo):
    client = fake()
    report = run_regress(rrepo, client)
    assert report.ok and report.prompts == [] and client.history == []


def test_critical_regression_fails_and_junit_names_it(rrepo, tmp_path, cli, monkeypatch):
    (rrepo / "prompts" / "cls.yaml").write_text(with_system("Classify the item. MAGIC BREAK"))
    report = run_regress(rrepo, fake())
    v = report.prompts[0]
    assert not report.ok and v.paired.regressed == ["c1"]
    assert "critical case(s) regressed: c1" in v.reasons[0]

    # the same through the CLI, against a local OpenAI-compatible server
    with served(rrepo):
        summary = tmp_path / "summary.md"
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
        junit = tmp_path / "r.xml"
        r = cli.invoke(app, ["-C", str(rrepo), "regress", "--base", "base", "--junit", str(junit)])
        assert r.exit_code == 1, r.output
        assert "REGRESSION" in r.output and "c1" in r.output
        failures = [tc for tc in ET.parse(junit).getroot().iter("testcase") if tc.find("failure") is not None]
        assert [tc.get("name") for tc in failures] == ["c1"]
        assert "critical case regressed" in failures[0].find("failure").get("message")
        text = summary.read_text()
        assert "❌" in text and "`cls`" in text and "| c1" in text
        r = cli.invoke(app, ["-C", str(rrepo), "regress", "--base", "base", "--json"])
        assert json.loads(r.output)["prompts"][0]["regressed"] == ["c1"]


def test_missing_base_ref_exit_2_with_fix(rrepo, cli):
    r = cli.invoke(app, ["-C", str(rrepo), "regress", "--base", "origin/main"])
    assert r.exit_code == 2
    assert "origin/main" in r.output and "fetch-depth: 0" in r.output
    with pytest.raises(UsageError):
        run_regress(rrepo, fake(), base="nope")


def test_added_deleted_renamed_and_golden_changed(rrepo):
    (rrepo / "prompts" / "other.yaml").unlink()
    (rrepo / "prompts" / "new.yaml").write_text(with_system("New. MAGIC"))
    git(rrepo, "mv", "prompts/cls.yaml", "prompts/cls2.yaml")
    (rrepo / "golden" / "cls.yaml").write_text(golden_yaml() + "  - id: c11\n    inputs: {q: apple cider}\n"
                                               "    expected: A\n")
    report = run_regress(rrepo, fake())
    by = {p.name: p for p in report.prompts}
    assert by["other"].status == "deleted"
    assert by["new"].status == "added" and any("no base version" in n for n in by["new"].notes)
    assert by["cls2"].status == "renamed" and "renamed from cls" in by["cls2"].notes
    assert any("golden set changed" in n for n in by["cls2"].notes)
    assert len(by["cls2"].cases) == 11 and report.ok


def test_log_diff_rollback_across_three_versions(rrepo):
    config = load_config(rrepo)
    v2 = commit_files(rrepo, {"prompts/cls.yaml": with_system("Version two. MAGIC")}, "v2")
    v3 = commit_files(rrepo, {"prompts/cls.yaml": with_system("Version three.")},
                      "v3\n\nPromptloop-Prompt: cls\nPromptloop-Pass-Rate: 0.5000")
    vs = versions(config, "cls")
    assert [v.commit for v in vs][:2] == [v3, v2] and len(vs) == 3
    assert vs[0].score == 0.5 and vs[1].score is None
    d = diff(config, "cls", v2, v3)
    assert "-      Version two. MAGIC\n+      Version three.\n" in d.text and d.score_b == 0.5
    assert diff(config, "cls").text == ""  # the working tree equals HEAD
    # v4 was committed by optimize: it recorded the pass rate of the version it improved (here v2, unscored)
    blob = git(rrepo, "rev-parse", f"{v2}:prompts/cls.yaml").strip()
    v4 = commit_files(rrepo, {"prompts/cls.yaml": with_system("Version four.")},
                      f"v4\n\nPromptloop-Prompt: cls\nPromptloop-Baseline: {blob}\n"
                      "Promptloop-Pass-Rate: 0.9000\nPromptloop-Baseline-Pass-Rate: 0.2500")
    assert (diff(config, "cls", v2, v4).score_a, diff(config, "cls", v2, v4).score_b) == (0.25, 0.9)
    assert diff(config, "cls", v3, v4).score_a == 0.5  # v3's own recorded score
    assert diff(config, "cls", vs[-1].commit, v4).score_a is None  # not the version v4 improved
    git(rrepo, "reset", "-q", "--hard", v3)

    before = snapshot(rrepo)
    r = rollback(config, "cls", v2, branch=True)
    assert snapshot(rrepo) == before
    assert git(rrepo, "show", f"{r.branch}:prompts/cls.yaml") == with_system("Version two. MAGIC")
    assert git(rrepo, "rev-parse", f"{r.branch}~1").strip() == v3

    rollback(config, "cls", vs[-1].commit)
    assert (rrepo / "prompts" / "cls.yaml").read_text() == with_system("Classify the item. MAGIC")
    assert git(rrepo, "rev-parse", "HEAD").strip() == v3  # no commit, no history rewrite
    from promptloop.errors import GitError

    with pytest.raises(GitError, match="uncommitted changes"):
        rollback(config, "cls", v2)


def test_history_commands_through_the_cli(rrepo, cli, tmp_path):
    v2 = commit_files(rrepo, {"prompts/cls.yaml": with_system("Version two. MAGIC")},
                      "v2\n\nPromptloop-Prompt: cls\nPromptloop-Pass-Rate: 0.7500")
    r = cli.invoke(app, ["-C", str(rrepo), "log", "cls"])
    assert r.exit_code == 0 and v2[:10] in r.output and "0.750" in r.output
    r = cli.invoke(app, ["-C", str(rrepo), "diff", "cls", "HEAD~1", "HEAD"])
    assert r.exit_code == 0 and "+      Version two. MAGIC" in r.output and "pass rate: – → 0.75" in r.output
    r = cli.invoke(app, ["-C", str(rrepo), "rollback", "cls", "--to", "HEAD~1"])
    assert r.exit_code == 0 and "restored prompts/cls.yaml" in r.output
    assert "Classify the item. MAGIC" in (rrepo / "prompts" / "cls.yaml").read_text()
    r = cli.invoke(app, ["-C", str(rrepo), "rollback", "cls", "--to", "nope"])
    assert r.exit_code == 2 and "unknown revision 'nope'" in r.output
    md = tmp_path / "r.md"
    r = cli.invoke(app, ["-C", str(rrepo), "regress", "--base", "HEAD", "--markdown", str(md)])
    # the working tree now holds the rolled-back prompt: scored against HEAD, fake/task is not a real model
    assert r.exit_code == 2 and "fake/task" in r.output


def test_harmless_change_exit_0_through_the_cli(rrepo, cli):
    with served(rrepo) as server:
        (rrepo / "prompts" / "cls.yaml").write_text(with_system("Classify the item, kindly. MAGIC"))
        r = cli.invoke(app, ["-C", str(rrepo), "regress", "--base", "base"])
        assert r.exit_code == 0, r.output
        assert "1 changed prompt(s), 1 unchanged" in r.output and "pass" in r.output
        assert len(server.requests) == 20
        assert not any("Other prompt" in b["messages"][0]["content"] for b in server.requests)


def test_regress_shards_merge_to_the_gate_verdict(rrepo, cli, tmp_path):
    (rrepo / "prompts" / "cls.yaml").write_text(with_system("Classify the item. MAGIC BREAK"))
    with served(rrepo):
        whole = cli.invoke(app, ["-C", str(rrepo), "regress", "--base", "base", "--json"])
        assert whole.exit_code == 1
        paths = []
        for i in (1, 2):
            r = cli.invoke(app, ["-C", str(rrepo), "regress", "--base", "base", "--json", "--shard", f"{i}/2"])
            assert r.exit_code == 0, r.output  # a shard alone gates nothing
            paths.append(tmp_path / f"r{i}.json")
            paths[-1].write_text(r.stdout)
    junit = tmp_path / "merged.xml"
    merged = cli.invoke(app, ["merge", *map(str, paths), "--json", "-o", str(junit)])
    assert merged.exit_code == 1, merged.output
    a, b = json.loads(whole.stdout)["prompts"][0], json.loads(merged.stdout)["prompts"][0]
    assert a["regressed"] == b["regressed"] == ["c1"] and sorted(a["fixed"]) == sorted(b["fixed"])
    assert any("critical case(s) regressed: c1" in r for r in b["reasons"])
    assert [tc.get("name") for tc in ET.parse(junit).getroot().iter("testcase")
            if tc.find("failure") is not None] == ["c1"]
    # The shard without the regressed case, alone or doubled, must not pass for the whole run.
    for partial in ([paths[0]], [paths[1]], [paths[1], paths[1]]):
        m = cli.invoke(app, ["merge", *map(str, partial)])
        assert m.exit_code == 2 and "do not make one whole run" in m.output
    (tmp_path / "whole.json").write_text(whole.stdout)
    m = cli.invoke(app, ["merge", str(tmp_path / "whole.json"), str(paths[0])])
    assert m.exit_code == 2 and "every shard of one run" in m.output


def test_regress_selects_cases_like_eval(rrepo, cli):
    (rrepo / "prompts" / "cls.yaml").write_text(with_system("Classify the item. MAGIC BREAK"))
    from promptloop.scoring.eval_run import Selection

    client = fake()
    report = run_regress(rrepo, client, selection=Selection(keyword="ap"))  # apple pie, apricot jam
    ids = [c.id for c in report.prompts[0].cases]
    assert ids == ["c1", "c3"] and len(client.history) == 4  # 2 cases, base and new
    assert not report.ok and report.prompts[0].paired.regressed == ["c1"]
    assert any("-k ap: 2 of 10 cases scored" in n for n in report.prompts[0].notes)

    client = fake()
    report = run_regress(rrepo, client, selection=Selection(exclude_tags=("critical",)))
    assert report.ok and "c1" not in [c.id for c in report.prompts[0].cases] and len(client.history) == 16

    with served(rrepo):
        r = cli.invoke(app, ["-C", str(rrepo), "regress", "--base", "base", "--tag", "critical", "--json"])
        assert r.exit_code == 1 and json.loads(r.stdout)["prompts"][0]["regressed"] == ["c1"]
        r = cli.invoke(app, ["-C", str(rrepo), "regress", "--base", "base", "-k", "zzz-no-such-case"])
        assert r.exit_code == 2 and "-k zzz-no-such-case leaves no case of the changed prompts (cls)" in r.output


def test_a_changed_prompt_the_selection_leaves_without_cases_is_not_passed(rrepo):
    """-k picks cases of one changed prompt; the other changed prompt, with none picked, was not judged:
    it fails the gate with a reason instead of passing unseen."""
    (rrepo / "golden" / "oth.yaml").write_text("cases:\n  - {id: o1, inputs: {q: banana split}, expected: B}\n")
    (rrepo / "prompts" / "other.yaml").write_text(OTHER.replace("golden: cls", "golden: oth") + "# changed\n")
    git(rrepo, "add", "-A")
    git(rrepo, "commit", "-qm", "other has its own golden set")
    git(rrepo, "branch", "-f", "base")
    (rrepo / "prompts" / "cls.yaml").write_text(with_system("Classify the item, please. MAGIC"))
    (rrepo / "prompts" / "other.yaml").write_text(OTHER.replace("golden: cls", "golden: oth") + "# again\n")
    from promptloop.scoring.eval_run import Selection

    report = run_regress(rrepo, fake(), selection=Selection(keyword="ap"))
    by = {v.name: v for v in report.prompts}
    assert by["cls"].ok and [c.id for c in by["cls"].cases] == ["c1", "c3"]
    assert not by["other"].ok and "leaves none of its golden cases" in by["other"].reasons[0]
    assert not report.ok and report.exit_code == 1


def test_tree_state_reads_revision_and_dirtiness(rrepo, tmp_path):
    from promptloop.git.tree import tree_state

    head = git(rrepo, "rev-parse", "HEAD").strip()
    watched = (rrepo / "prompts", rrepo / "golden", rrepo / "promptloop.yaml")
    assert tree_state(rrepo, watched) == (head, False)
    (rrepo / "report.md").write_text("an eval report, untracked\n")  # beside what was scored: not a change
    assert tree_state(rrepo, watched) == (head, False)
    (rrepo / "prompts" / "new.yaml").write_text(with_system("New."))  # an untracked prompt is
    assert tree_state(rrepo, watched) == (head, True)
    (rrepo / "prompts" / "new.yaml").unlink()
    (rrepo / "prompts" / "cls.yaml").write_text(with_system("Changed."))
    assert tree_state(rrepo, watched) == (head, True)
    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    assert tree_state(plain) == (None, False)
