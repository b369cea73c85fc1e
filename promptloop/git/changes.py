"""What a change touched: the prompts whose file, golden set, promptloop.yaml or python check module
differ between a merge-base and the working tree, read from git."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptloop.errors import PromptloopError, UsageError
from promptloop.git.commits import commit_sha, file_at, relpath
from promptloop.repo.config import CONFIG_FILE, Config, config_from_text
from promptloop.repo.prompts import GoldenSet, Prompt, golden_path, load_golden, load_prompt
from promptloop.repo.tools import tools_file

SHALLOW_HINT = ("if this is a shallow CI clone, fetch the history: in GitHub Actions use actions/checkout "
                "with `fetch-depth: 0`, or run `git fetch --unshallow`")


@dataclass
class Change:
    name: str
    status: str  # modified | added | deleted | renamed | golden-changed
    base_text: str | None
    new_path: Path | None
    old_name: str | None = None
    golden_changed: bool = False
    inputs_changed: list[str] = field(default_factory=list)  # other inputs of its score that changed


def resolve_base(repo: Any, ref: str) -> str:
    """The merge-base of ``ref`` and HEAD; a missing ref or history says how to fetch it."""
    sha = commit_sha(repo, ref)
    if sha is None:
        raise UsageError(f"base ref '{ref}' does not exist here; {SHALLOW_HINT}")
    found = repo.merge_base(repo.commit(sha), repo.head.commit)
    if not found:
        raise UsageError(f"'{ref}' and HEAD share no history; {SHALLOW_HINT}")
    return str(found[0].hexsha)


def _diff_entries(repo: Any, merge_base: str, rels: tuple[str, str]) -> list[tuple[str, str, str | None]]:
    """(status, path, old path) of every file under the prompts and golden folders that differs from
    ``merge_base`` in the working tree, untracked files included."""
    diff = repo.git.diff("--name-status", "-M", merge_base, "--", *rels)
    untracked = repo.git.ls_files("--others", "--exclude-standard", "--", *rels)
    entries: list[tuple[str, str, str | None]] = []
    for line in diff.splitlines():
        parts = line.split("\t")
        if parts[0].startswith("R"):
            entries.append(("renamed", parts[2], parts[1]))
        else:
            entries.append(({"A": "added", "D": "deleted"}.get(parts[0][0], "modified"), parts[1], None))
    entries += [("added", p, None) for p in untracked.splitlines() if p]
    return [e for e in entries if e[1].endswith((".yaml", ".yml"))]


def _golden_name(config: Config, name: str) -> str:
    try:
        return load_prompt(config, name).golden_name
    except PromptloopError:  # judged (and reported) when the change is scored
        return name


def find_changes(config: Config, repo: Any, merge_base: str, only: list[str] | None = None) -> tuple[list[Change],
                                                                                                    list[str]]:
    """Prompts whose file or golden set differ between ``merge_base`` and the working tree."""
    root = Path(repo.working_tree_dir)
    prompts_rel = relpath(repo, config.prompts_dir)
    golden_rel = relpath(repo, config.golden_dir)
    changes: dict[str, Change] = {}
    golden_touched: set[str] = set()
    for status, rel, old in _diff_entries(repo, merge_base, (prompts_rel, golden_rel)):
        if rel.startswith(prompts_rel + "/"):
            base_text = file_at(repo, merge_base, old or rel) if status != "added" else None
            changes[Path(rel).stem] = Change(Path(rel).stem, status, base_text,
                                             None if status == "deleted" else root / rel,
                                             old_name=Path(old).stem if old else None)
        elif rel.startswith(golden_rel + "/"):
            golden_touched |= {Path(rel).stem} | ({Path(old).stem} if old else set())
    all_prompts = sorted(p.stem for p in config.prompts_dir.glob("*.y*ml"))

    def unchanged_file(name: str, status: str) -> Change:
        rel = relpath(repo, config.prompts_dir / f"{name}.yaml")
        return Change(name, status, file_at(repo, merge_base, rel), config.prompts_dir / f"{name}.yaml")

    for name in all_prompts:
        if _golden_name(config, name) in golden_touched:
            changes.setdefault(name, unchanged_file(name, "golden-changed")).golden_changed = True
    for name, why in other_inputs_changed(config, repo, merge_base, all_prompts).items():
        changes.setdefault(name, unchanged_file(name, "inputs-changed")).inputs_changed += why
    selected = [c for n, c in sorted(changes.items()) if not only or n in only]
    unchanged = [n for n in all_prompts if n not in changes and (not only or n in only)]
    return selected, unchanged


def base_config(config: Config, repo: Any, merge_base: str) -> Config:
    """promptloop.yaml as it was at the merge-base (defaults if it did not exist)."""
    return config_from_text(config.root, file_at(repo, merge_base, relpath(repo, config.root / CONFIG_FILE)))


def python_modules(prompt: Prompt, golden: GoldenSet | None) -> set[str]:
    found = [a for a in prompt.assertions if a.type == "python"]
    found += [a for c in (golden.cases if golden else []) for a in c.assertions if a.type == "python"]
    return {str(a.value).partition(":")[0] for a in found if a.value}


def module_paths(root: Path, module: str) -> list[Path]:
    base = root.joinpath(*module.split("."))
    return [base.with_suffix(".py"), base / "__init__.py"]


def other_inputs_changed(config: Config, repo: Any, merge_base: str, names: list[str]) -> dict[str, list[str]]:
    """Prompts whose score can change without their own files changing: promptloop.yaml (models,
    thresholds, timeout) or a ``python:`` check module in the repo."""
    out: dict[str, list[str]] = {}
    before = base_config(config, repo, merge_base).scoring_settings()
    after = config.scoring_settings()
    changed_keys = [k for k in after if after[k] != before[k]]
    changed_roles = [r for r in after["models"] if after["models"][r] != before["models"][r]]
    for name in names:
        try:
            prompt = load_prompt(config, name)
        except PromptloopError:
            continue
        why: list[str] = []
        if "models" in changed_keys and (("task" in changed_roles and not prompt.model_settings.get("name"))
                                         or "judge" in changed_roles):
            why.append(f"{CONFIG_FILE}: models ({', '.join(changed_roles)}) changed")
        if "thresholds" in changed_keys or "timeout" in changed_keys:
            why.append(f"{CONFIG_FILE}: {', '.join(k for k in changed_keys if k != 'models')} changed")
        try:
            golden: GoldenSet | None = load_golden(golden_path(config, prompt), prompt)
        except PromptloopError:
            golden = None
        for module in sorted(python_modules(prompt, golden)):
            for path in module_paths(config.root, module):
                rel = relpath(repo, path)
                now = path.read_text(encoding="utf-8") if path.is_file() else None
                if now != file_at(repo, merge_base, rel):
                    why.append(f"python check module {rel} changed")
                    break
        if isinstance(prompt.data.get("tools"), str):  # tools kept in a file of their own: a change of the prompt
            path = tools_file(prompt.path, prompt.data["tools"])
            now = path.read_text(encoding="utf-8") if path.is_file() else None
            if now != file_at(repo, merge_base, relpath(repo, path)):
                why.append(f"tools file {relpath(repo, path)} changed")
        if why:
            out[name] = why
    return out
