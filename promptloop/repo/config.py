"""promptloop.yaml: found by walking up from the working directory, like git."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptloop.endpoint import endpoint_problem, split_model_option
from promptloop.errors import RepoNotFound, UsageError
from promptloop.repo.files import Document, load_validated

CONFIG_FILE = "promptloop.yaml"
LOCAL_MODEL = "local/smollm2"

ROLES = ("task", "proposer", "judge")
DEFAULTS: dict[str, Any] = {
    "models": {"default": LOCAL_MODEL},
    "concurrency": 8,
    "timeout": 60.0,
    "retries": 4,
    "cache_dir": ".promptloop",
    "budget": {"calls": 500, "tokens": 2_000_000, "usd": 2.0, "rounds": 3, "patience": 2, "candidates": 4},
    "branch_prefix": "promptloop",
    "thresholds": {},
    "regress": {"allowance": 0, "tolerance": 0.02, "repeats": 1, "judge_repeats": 1, "alpha": 0.05},
    "traces": {"retry_window": 120.0},
}


@dataclass(frozen=True)
class ModelRef:
    """A model as named in the config: a litellm name and, optionally, where it is served."""

    name: str
    api_base: str | None = None

    @classmethod
    def parse(cls, value: Any) -> ModelRef:
        if isinstance(value, str):
            return cls(value)
        return cls(value["name"], value.get("api_base"))

    @classmethod
    def from_option(cls, text: str) -> ModelRef:
        """``-m NAME`` or ``-m NAME@http(s)://HOST/v1`` (see :func:`split_model_option`)."""
        try:
            name, url = split_model_option(text)
        except ValueError as e:
            raise UsageError(f"-m {text}: {e}") from None
        return cls(name, url)


@dataclass
class Config:
    root: Path
    data: dict[str, Any] = field(default_factory=dict)

    def _get(self, key: str) -> Any:
        value = self.data.get(key, DEFAULTS[key])
        if isinstance(DEFAULTS[key], dict):
            return {**DEFAULTS[key], **(value or {})}
        return value

    def model(self, role: str) -> ModelRef:
        """The model for ``role``: its own setting, else ``models.default``, else the embedded model."""
        models = self._get("models")
        return ModelRef.parse(models.get(role) or models.get("default") or LOCAL_MODEL)

    def scoring_settings(self) -> dict[str, Any]:
        """What in this file can change a score: models (with endpoints), thresholds, sampling of regress."""
        return {"models": {r: self.model(r) for r in ROLES}, "thresholds": self.thresholds,
                "timeout": self.timeout}

    @property
    def concurrency(self) -> int:
        return int(self._get("concurrency"))

    @property
    def timeout(self) -> float:
        return float(self._get("timeout"))

    @property
    def retries(self) -> int:
        return int(self._get("retries"))

    @property
    def cache_dir(self) -> Path:
        return self.root / str(self._get("cache_dir"))

    @property
    def budget(self) -> dict[str, Any]:
        return dict(self._get("budget"))

    @property
    def branch_prefix(self) -> str:
        return str(self._get("branch_prefix"))

    @property
    def thresholds(self) -> dict[str, float]:
        return dict(self._get("thresholds"))

    @property
    def regress(self) -> dict[str, Any]:
        return dict(self._get("regress"))

    @property
    def traces(self) -> dict[str, Any]:
        return dict(self._get("traces"))

    @property
    def prompts_dir(self) -> Path:
        return self.root / "prompts"

    @property
    def golden_dir(self) -> Path:
        return self.root / "golden"


def find_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` holding promptloop.yaml."""
    start = start.resolve()
    for d in (start, *start.parents):
        if (d / CONFIG_FILE).is_file():
            return d
    raise RepoNotFound(
        f"no {CONFIG_FILE} in {start} or any parent directory; "
        "run `promptloop init` to create a prompt repo, or pass -C DIR"
    )


def load_config(start: Path) -> Config:
    root = find_root(start)
    doc = load_validated(root / CONFIG_FILE, "config")
    check_endpoints(doc)
    return Config(root=root, data=doc.data)


def check_endpoints(doc: Document) -> None:
    """Every ``api_base`` under ``models:`` (config) or ``model:`` (a prompt) is an endpoint, and no model name
    carries one (``openai/x@localhost:8080/v1`` would be sent, key and all, to the default host), else an
    error at its line."""
    data = doc.data if isinstance(doc.data, dict) else {}
    models: dict[str, Any] = data["models"] if isinstance(data.get("models"), dict) else {}
    places: list[tuple[tuple[str, ...], Any]] = [(("models", str(role)), v) for role, v in models.items()]
    places.append((("model",), data.get("model")))
    for path, value in places:
        name, where = (value, path) if isinstance(value, str) else (
            (value.get("name"), (*path, "name")) if isinstance(value, dict) else (None, path))
        if isinstance(name, str) and "@" in name:
            try:
                why = split_model_option(name)[1] or ""
            except ValueError as e:
                why = str(e)
            if why:
                raise doc.error(where, f"the model name {name!r} holds an endpoint ({why}); write it as "
                                       "{name: NAME, api_base: http://HOST:PORT/v1}")
        if isinstance(value, dict) and isinstance(value.get("api_base"), str):
            problem = endpoint_problem(value["api_base"])
            if problem:
                raise doc.error((*path, "api_base"), f"api_base: {problem}")


def config_from_text(root: Path, text: str | None) -> Config:
    """The settings as written in ``text`` (e.g. promptloop.yaml at a git revision); None means defaults."""
    if text is None:
        return Config(root=root, data={})
    from promptloop.repo.files import load_yaml, validate

    doc = load_yaml(root / CONFIG_FILE, text)
    if doc.data is None:
        doc.data = {}
    if not isinstance(doc.data, dict):
        raise doc.error((), "expected a mapping at the top of the file (see `promptloop schema config`)")
    validate(doc, "config")
    check_endpoints(doc)
    return Config(root=root, data=doc.data)
