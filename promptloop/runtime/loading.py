"""``promptloop.load``: a prompt from the repo (or a bundle) at an exact version, ready to call."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptloop.errors import ConfigError, UsageError
from promptloop.git.commits import git_blob_id
from promptloop.repo.config import CONFIG_FILE, Config, config_from_text, find_root
from promptloop.repo.prompts import Prompt, list_prompt_paths, prompt_from_text, resolve_prompt_path

BUNDLE_FORMAT = 1


class MissingInputs(UsageError):
    """A prompt was rendered without all the inputs it declares."""


@dataclass(frozen=True)
class LoadedPrompt:
    """One prompt at one version. ``render`` fills its template; ``params`` and ``request`` feed any client."""

    name: str
    version: str
    text: str
    model: str
    api_base: str | None = None
    prompt: Prompt = field(repr=False, compare=False, default=None)  # type: ignore[assignment]

    @property
    def inputs(self) -> list[str]:
        return list(self.prompt.inputs)

    @property
    def params(self) -> dict[str, Any]:
        """Model and sampling settings as litellm (and, model name aside, the OpenAI SDK) take them."""
        from promptloop.scoring.evaluate import request_params

        out: dict[str, Any] = {"model": self.model, **request_params(self.prompt, model=self.model)}
        if self.api_base:
            out["api_base"] = self.api_base
        return out

    def render(self, **inputs: Any) -> list[dict[str, str]]:
        missing = [v for v in self.prompt.inputs if v not in inputs]
        if missing:
            raise MissingInputs(f"prompt '{self.name}' needs input {', '.join(repr(m) for m in missing)} "
                                f"(declared: {', '.join(self.prompt.inputs)})")
        return self.prompt.render(inputs)

    def request(self, **inputs: Any) -> dict[str, Any]:
        """Keyword arguments for ``litellm.completion``; the metadata lets a recorder name this version."""
        return {**self.params, "messages": self.render(**inputs),
                "metadata": {"promptloop_prompt": self.name, "promptloop_version": self.version,
                             "promptloop_inputs": dict(inputs)}}

    def to_bundle(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "text": self.text, "model": self.model,
                "api_base": self.api_base}


def _from_text(name: str, path: Path, data: bytes, config: Config) -> LoadedPrompt:
    text = data.decode("utf-8")
    prompt = prompt_from_text(name, path, text)
    settings = prompt.model_settings
    default = config.model("task")
    model = settings.get("name") or default.name
    api_base = settings.get("api_base") or (default.api_base if model == default.name else None)
    return LoadedPrompt(name=name, version=git_blob_id(data), text=text, model=model, api_base=api_base,
                        prompt=prompt)


def load(name: str, *, repo: str | Path = ".", ref: str | None = None,
         bundle: str | Path | None = None) -> LoadedPrompt:
    """The prompt ``name`` as it is in the working tree, at git revision ``ref`` (the checkout is not
    touched), or in a ``bundle`` file written by ``promptloop bundle``."""
    if bundle is not None:
        prompts = load_bundle(bundle)
        if name not in prompts:
            raise ConfigError(f"no prompt '{name}' in the bundle; it holds: {', '.join(sorted(prompts)) or 'none'}",
                              file=str(bundle))
        return prompts[name]
    root = find_root(Path(repo))
    if ref is None:
        from promptloop.repo.config import load_config

        config = load_config(root)
        path = resolve_prompt_path(config, name)
        return _from_text(path.stem, path, path.read_bytes(), config)
    from promptloop.git.commits import file_at, open_repo, relpath

    git_repo = open_repo(root)
    config = config_from_text(root, file_at(git_repo, ref, relpath(git_repo, root / CONFIG_FILE)))
    for suffix in (".yaml", ".yml"):
        path = config.prompts_dir / f"{name}{suffix}"
        text = file_at(git_repo, ref, relpath(git_repo, path))
        if text is not None:
            return _from_text(name, path, text.encode("utf-8"), config)
    raise ConfigError(f"no prompt '{name}' at {ref} in {config.prompts_dir}")


def load_bundle(path: str | Path) -> dict[str, LoadedPrompt]:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read the bundle ({e}); write it with `promptloop bundle -o {p}`",
                          file=str(p)) from None
    if not isinstance(data, dict) or data.get("promptloop_bundle") != BUNDLE_FORMAT:
        raise ConfigError("not a promptloop bundle; write one with `promptloop bundle`", file=str(p))
    out = {}
    for item in data.get("prompts", []):
        config = Config(root=p.parent, data={"models": {"task": {"name": item["model"],
                                                                 **({"api_base": item["api_base"]}
                                                                    if item.get("api_base") else {})}}})
        loaded = _from_text(item["name"], p.parent / f"{item['name']}.yaml", item["text"].encode("utf-8"), config)
        if loaded.version != item["version"]:
            raise ConfigError(f"prompt '{item['name']}' in the bundle does not match its version; rewrite the "
                              "bundle with `promptloop bundle`", file=str(p))
        out[loaded.name] = loaded
    return out


def bundle(config: Config, names: list[str] | None = None) -> dict[str, Any]:
    """Every prompt (or ``names``) with its version, as one JSON document an app can ship."""
    paths = list_prompt_paths(config) if not names else [resolve_prompt_path(config, n) for n in names]
    prompts = [_from_text(p.stem, p, p.read_bytes(), config).to_bundle() for p in paths]
    return {"promptloop_bundle": BUNDLE_FORMAT, "prompts": prompts}


def use_embedded_model() -> None:
    """Let litellm call the embedded model as ``local/smollm2`` (offline; needs ``promptloop[local]``)."""
    from promptloop.model.routes import litellm_module

    litellm_module()
