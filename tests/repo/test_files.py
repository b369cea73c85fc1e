"""File formats: every bad input is one ConfigError naming file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptloop.errors import ConfigError, RepoNotFound
from promptloop.flows.validate import validate_repo
from promptloop.repo.config import load_config
from promptloop.repo.files import load_yaml, schema
from promptloop.repo.prompts import load_golden, load_prompt
from promptloop.scoring.eval_run import load_task


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_examples_are_valid(config):
    checked, errors, _ = validate_repo(config)
    assert errors == []
    assert checked == 10  # four prompts, five golden sets (bfcl has a test set), the config
    prompt, golden = load_task(config, "trec")
    assert prompt.inputs == ["question"]
    assert len(golden.cases) == 38
    assert {c.expected for c in golden.cases} == {"ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"}


def test_config_found_walking_up(repo):
    deep = repo / "prompts"
    assert load_config(deep).root == repo


def test_no_config(tmp_path):
    with pytest.raises(RepoNotFound, match="promptloop init"):
        load_config(tmp_path)


def test_malformed_yaml_names_line(config, repo):
    write(repo / "prompts" / "bad.yaml", "description: x\nmessages:\n  - role: user\n    content: [unclosed\n")
    with pytest.raises(ConfigError) as e:
        load_prompt(config, "bad")
    assert e.value.file.endswith("bad.yaml") and e.value.line == 5
    assert "invalid YAML" in str(e.value)


def test_unknown_key_names_line_and_allowed(config, repo):
    write(repo / "prompts" / "bad.yaml", "description: x\nmesages: []\nmessages:\n  - {role: user, content: hi}\n")
    with pytest.raises(ConfigError) as e:
        load_prompt(config, "bad")
    assert e.value.line == 2 and e.value.column == 1
    assert "unknown key 'mesages'" in str(e.value) and "allowed:" in str(e.value) and "messages" in str(e.value)


def test_unknown_key_in_nested_case(config, repo):
    text = (repo / "golden" / "trec.yaml").read_text().replace("  expected: NUM\n", "  expected: NUM\n  expect: 1\n", 1)
    write(repo / "golden" / "trec.yaml", text)
    line = text.splitlines().index("  expect: 1") + 1
    with pytest.raises(ConfigError) as e:
        load_task(config, "trec")
    assert e.value.line == line
    assert "cases[" in str(e.value) and "'expect'" in str(e.value)


def test_undeclared_template_variable(config, repo):
    write(repo / "prompts" / "bad.yaml",
          "inputs: [question]\nmessages:\n  - role: user\n    content: 'Q: {{question}} {{context}}'\n")
    with pytest.raises(ConfigError) as e:
        load_prompt(config, "bad")
    assert e.value.line == 4
    assert "{{context}}" in str(e.value) and "not declared" in str(e.value)


def test_template_code_is_rejected(config, repo):
    write(repo / "prompts" / "bad.yaml",
          "inputs: [q]\nmessages:\n  - role: user\n    content: '{{q.__class__}}'\n")
    with pytest.raises(ConfigError, match="not a plain variable"):
        load_prompt(config, "bad")


def test_golden_case_missing_input(config, repo):
    text = (repo / "golden" / "gsm8k.yaml").read_text().replace("    question:", "    problem:", 1)
    write(repo / "golden" / "gsm8k.yaml", text)
    with pytest.raises(ConfigError) as e:
        load_task(config, "gsm8k")
    assert e.value.line == 7  # the `inputs:` key of the first case
    assert "missing input 'question'" in str(e.value)


def test_invalid_json_schema_in_prompt(config, repo):
    text = (repo / "prompts" / "hotel_slots.yaml").read_text().replace("date: {type: string,",
                                                                       "date: {type: strng,")
    write(repo / "prompts" / "hotel_slots.yaml", text)
    with pytest.raises(ConfigError) as e:
        load_prompt(config, "hotel_slots")
    assert "invalid JSON Schema" in str(e.value) and e.value.line is not None


def test_unknown_assertion_type(config, repo):
    text = (repo / "prompts" / "trec.yaml").read_text().replace("type: label", "type: lable")
    write(repo / "prompts" / "trec.yaml", text)
    with pytest.raises(ConfigError) as e:
        load_prompt(config, "trec")
    assert "'lable'" in str(e.value) and "label" in str(e.value)
    assert e.value.line == text.splitlines().index("  - type: lable") + 1


def test_duplicate_keys_and_ids(config, repo, tmp_path):
    with pytest.raises(ConfigError, match="duplicate key 'a'"):
        load_yaml(tmp_path / "x.yaml", "a: 1\na: 2\n")
    write(repo / "golden" / "dup.yaml", "cases:\n  - {id: a, inputs: {}}\n  - {id: a, inputs: {}}\n")
    with pytest.raises(ConfigError) as e:
        load_golden(repo / "golden" / "dup.yaml")
    assert e.value.line == 3 and "duplicate case id" in str(e.value)


def test_validate_repo_collects_all_errors(config, repo):
    write(repo / "prompts" / "a.yaml", "messages: 3\n")
    write(repo / "golden" / "orphan.yaml", "cases: [{id: 1}]\n")
    _, errors, _ = validate_repo(config)
    assert len(errors) == 2
    assert any("a.yaml:1" in str(e) for e in errors) and any("orphan.yaml:1" in str(e) for e in errors)


def test_schemas_ship_and_reject_unknown_keys():
    for name in ("prompt", "golden", "config", "trace"):
        assert schema(name)["additionalProperties"] is False
    assert "llm_judge" in schema("prompt")["$defs"]["assertion"]["properties"]["type"]["enum"]


def test_schema_enum_matches_registry():
    from promptloop.scoring.assertions import REGISTRY

    assert set(schema("prompt")["$defs"]["assertion"]["properties"]["type"]["enum"]) == set(REGISTRY)


def test_written_schemas_stand_alone_for_check_jsonschema(cli, tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from promptloop.cli import app

    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert tool, "check-jsonschema is a dev dependency"
    root = tmp_path / "proj"
    assert cli.invoke(app, ["init", str(root)]).exit_code == 0
    schemas = root / ".schemas"
    for rel, name in (("promptloop.yaml", "config"), ("prompts/sentiment.yaml", "prompt"),
                      ("golden/sentiment.yaml", "golden")):
        text = (root / rel).read_text()
        pointer = text.splitlines()[0].split("$schema=", 1)[1]
        assert (root / rel).parent.joinpath(pointer).resolve() == (schemas / f"{name}.schema.json").resolve()
        r = subprocess.run([tool, "--schemafile", str(schemas / f"{name}.schema.json"), str(root / rel)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
    repo_root = Path(__file__).resolve().parents[2]
    shipped = [*sorted((repo_root / "prompts").glob("*.yaml"))]
    r = subprocess.run([tool, "--schemafile", str(schemas / "prompt.schema.json"), *map(str, shipped)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([tool, "--schemafile", str(schemas / "golden.schema.json"),
                        *map(str, sorted((repo_root / "golden").glob("*.yaml")))], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    bad = root / "prompts" / "bad.yaml"
    bad.write_text("messages: []\nunknown: 1\n")
    r = subprocess.run([tool, "--schemafile", str(schemas / "prompt.schema.json"), str(bad)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1  # the standalone schema still rejects what promptloop rejects


def test_content_found_valid_is_not_validated_again_and_invalid_content_always_is(tmp_path, monkeypatch):
    from promptloop.repo import files

    monkeypatch.setenv("PROMPTLOOP_CACHE_HOME", str(tmp_path / "cache"))
    good = tmp_path / "good.yaml"
    good.write_text("cases:\n  - {id: a, inputs: {q: hi}, expected: x}\n")
    files.validate(files.load_yaml(good), "golden")
    assert len(list(files.valid_cache_dir().iterdir())) == 1

    def no_jsonschema(name):
        raise AssertionError("validated again")

    monkeypatch.setattr(files, "_validator", no_jsonschema)
    files.validate(files.load_yaml(good), "golden")  # same content, same schemas: remembered
    good.write_text("cases:\n  - {id: a, inputs: {q: hi}, expected: 1}\n")  # 1, not "1": other content
    with pytest.raises(AssertionError, match="validated again"):
        files.validate(files.load_yaml(good), "golden")
    monkeypatch.undo()
    monkeypatch.setenv("PROMPTLOOP_CACHE_HOME", str(tmp_path / "cache"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("cases:\n  - {id: a, inputs: {q: hi}, colour: red}\n")
    for _ in range(2):  # never remembered as valid
        with pytest.raises(ConfigError, match="unknown key 'colour'"):
            files.validate(files.load_yaml(bad), "golden")


def test_validate_lists_every_error_of_a_file(cli, repo):
    from promptloop.cli import app

    (repo / "golden" / "trec.yaml").write_text(
        "cases:\n  - {id: a, inputs: {question: x}, colour: red}\n  - {id: b, input: {question: y}}\n"
        "  - {id: c, inputs: {question: z}, tags: critical}\n")
    r = cli.invoke(app, ["-C", str(repo), "validate"])
    lines = [ln for ln in r.output.splitlines() if "golden/trec.yaml" in ln]
    assert r.exit_code == 2 and [ln.split("trec.yaml:")[1].split(":")[0] for ln in lines] == ["2", "3", "3", "4"]
    assert "colour" in lines[0] and "'inputs' is a required property" in r.output and "not of type 'array'" in lines[3]


def test_scalars_resolve_alike_however_often_they_repeat(tmp_path):
    """Tags are remembered per scalar text: a quoted 'yes' stays a string after a plain yes was a boolean."""
    import yaml as pyyaml


    text = "".join(f"- [yes, 'yes', 1e3, '1e3', null, 'null', ~, 0x1F, 12, '12', 1.5, Paris, !!str 7, {i}]\n"
                   for i in range(3))
    path = tmp_path / "a.yaml"
    path.write_text(text)
    assert load_yaml(path).data == pyyaml.safe_load(text)
