"""The validate use case: every file checked offline, each prompt read once, warnings beside errors."""

from __future__ import annotations

from promptloop.flows import validate as validate_module
from promptloop.flows.validate import validate
from promptloop.model import retirement
from promptloop.repo import prompts as prompts_module
from promptloop.repo.config import load_config


def test_each_prompt_is_read_once_and_a_prompts_own_retiring_model_is_named(repo, monkeypatch):
    path = repo / "prompts" / "trec.yaml"
    path.write_text(path.read_text().replace("model:\n", "model:\n  name: openai/old-model\n", 1))
    monkeypatch.setattr(retirement, "deprecation_date", lambda model: "2026-01-01" if "old-model" in model else None)
    reads: list[str] = []
    real = prompts_module.load_prompt
    counting = lambda config, name: reads.append(name) or real(config, name)  # noqa: E731
    for module in (prompts_module, validate_module):  # wherever a prompt may be read from
        monkeypatch.setattr(module, "load_prompt", counting)

    v = validate(load_config(repo))

    assert v.errors == []
    assert sorted(reads) == sorted(str(p) for p in prompts_module.list_prompt_paths(load_config(repo)))
    assert [r.model for r in v.retirements] == ["openai/old-model"] and v.retirements[0].past
    assert v.stale_judges == []


def test_a_broken_prompt_is_an_error_not_a_warning_and_the_others_are_still_checked(repo):
    (repo / "prompts" / "trec.yaml").write_text("messages: [\n")
    v = validate(load_config(repo))
    assert len(v.errors) == 1 and "trec.yaml" in str(v.errors[0])
    assert v.checked == 10  # the broken prompt counted among the files read


def test_the_judge_is_needed_when_a_golden_case_asks_for_it_not_only_the_prompt(repo):
    from promptloop.flows.models import needed_roles
    from promptloop.repo.prompts import loadable_prompts

    config = load_config(repo)
    assert needed_roles(config, loadable_prompts(config)) == {"task"}
    golden = repo / "golden" / "trec.yaml"
    text = golden.read_text()
    end = text.index("\n", text.index("- id:"))  # the first case: its assertions join the prompt's
    golden.write_text(text[:end] + "\n  assertions: [{type: llm_judge, value: Is it right?}]" + text[end:])
    assert needed_roles(config, loadable_prompts(config)) == {"task", "judge"}
