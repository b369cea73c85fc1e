"""Prompts and golden sets: the files in prompts/ and golden/, loaded and cross-checked."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptloop.errors import ConfigError, TemplateError
from promptloop.repo.assertion_types import TYPES
from promptloop.repo.config import Config, check_endpoints
from promptloop.repo.files import Document, load_validated
from promptloop.repo.template import TemplateSyntaxError, render, variables
from promptloop.repo.tools import check_case, check_messages, conversation, load_tools, wire_message
from promptloop.repo.user_schemas import check_json_schema


@dataclass
class Assertion:
    type: str
    value: Any = None
    threshold: float | None = None
    weight: float = 1.0
    tolerance: float | None = None
    rel_tolerance: float | None = None
    model: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Assertion:
        return cls(type=d["type"], value=d.get("value"), threshold=d.get("threshold"),
                   weight=float(d.get("weight", 1.0)), tolerance=d.get("tolerance"),
                   rel_tolerance=d.get("rel_tolerance"), model=d.get("model"))


@dataclass
class Case:
    id: str
    inputs: dict[str, Any]
    expected: Any = None
    tags: list[str] = field(default_factory=list)
    assertions: list[Assertion] = field(default_factory=list)
    review: bool = False

    @property
    def critical(self) -> bool:
        return "critical" in self.tags


@dataclass
class GoldenSet:
    name: str
    path: Path
    cases: list[Case]
    doc: Document | None = None


@dataclass
class Prompt:
    name: str
    path: Path
    data: dict[str, Any]
    doc: Document | None = None

    @property
    def description(self) -> str:
        return str(self.data.get("description", ""))

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The prompt's message items as written: turns, and ``{placeholder: NAME}`` items."""
        return list(self.data["messages"])

    @functools.cached_property
    def tools(self) -> list[dict[str, Any]]:
        """The tools the model may call (OpenAI format), read from the file the prompt names if it names one."""
        return load_tools(self.data, self.path, self.doc)

    @property
    def tool_choice(self) -> Any:
        return self.data.get("tool_choice")

    @property
    def placeholders(self) -> list[str]:
        return [str(m["placeholder"]) for m in self.data["messages"] if "placeholder" in m]

    @property
    def example_ids(self) -> list[str]:
        """Golden cases copied into the prompt as demonstrations: never scored against it (they would pass
        with their answer in the prompt)."""
        return list(dict.fromkeys(str(m["example"]) for m in self.data["messages"] if m.get("example")))

    @property
    def inputs(self) -> list[str]:
        return list(self.data.get("inputs", []))

    @property
    def model_settings(self) -> dict[str, Any]:
        return dict(self.data.get("model", {}))

    @property
    def output(self) -> dict[str, Any]:
        return dict(self.data.get("output", {}))

    @property
    def output_schema(self) -> dict[str, Any] | None:
        return self.output.get("schema")

    @property
    def choices(self) -> list[str] | None:
        """The closed set the answer must come from (``output.choices``), or None for free text. A prompt with a
        ``label`` check decodes under its labels by default (``choices: free`` opts out): the candidates of
        ``optimize`` then compete on what they answer, never on whether the answer parses."""
        value = self.output.get("choices")
        if value == "free":
            return None
        if value is None and not self.output_schema and self.output.get("format") != "json":
            value = "label"
        if value == "label":
            found = next((a.value for a in self.assertions if a.type == "label" and a.value), None)
            return [str(x) for x in found] if found else None
        return [str(x) for x in value] if isinstance(value, list) else None

    def label_reading(self, model: str | None) -> dict[str, Any]:
        """How ``model`` is asked to read its choices' scores: the calibration's ``label_bias`` (and
        ``label_lead``) when ``model`` is the one it was fitted for, else nothing: a calibration fitted for one
        model means nothing for another."""
        calibration = self.output.get("calibration")
        if not calibration or model != calibration.get("model") or self.choices is None:
            return {}
        out: dict[str, Any] = {}
        if calibration.get("bias"):
            out["label_bias"] = {str(k): float(v) for k, v in calibration["bias"].items()}
        if calibration.get("lead") is not None:
            out["label_lead"] = str(calibration["lead"])
        return out

    def stale_calibration(self) -> str | None:
        """Why the calibration no longer fits the prompt (it was fitted to other messages), or None."""
        fitted = (self.output.get("calibration") or {}).get("fitted_to")
        if fitted is None or fitted == messages_fingerprint(self.messages):
            return None
        return ("its label calibration was fitted to other messages, so its bias no longer matches the model's "
                "scores; run `promptloop optimize` to refit it, or remove output.calibration")

    @functools.cached_property
    def assertions(self) -> list[Assertion]:
        return [Assertion.from_dict(a) for a in self.data.get("assertions", [])]

    @property
    def golden_name(self) -> str:
        return str(self.data.get("golden", self.name))

    @property
    def thresholds(self) -> dict[str, float]:
        return dict(self.data.get("thresholds", {}))

    def render(self, inputs: dict[str, Any]) -> list[dict[str, Any]]:
        """The messages to send: templates filled from ``inputs``, each placeholder replaced by the case's
        conversation (data: its text is never rendered), tool calls in the API's shape."""
        out: list[dict[str, Any]] = []
        for m in self.messages:
            if "placeholder" in m:
                name = str(m["placeholder"])
                out += conversation(inputs.get(name), name)
                continue
            turn = wire_message(m)
            if isinstance(m.get("content"), str):
                turn["content"] = render(m["content"], inputs)
            out.append(turn)
        return out


def _check_prompt(prompt: Prompt) -> None:
    doc = prompt.doc
    assert doc is not None
    declared = set(prompt.inputs)
    check_messages(prompt.messages, prompt.inputs, doc)
    for i, m in enumerate(prompt.messages):
        try:
            used = variables(m.get("content") or "")
        except TemplateSyntaxError as e:
            line, col = doc.where(("messages", i, "content"))
            raise TemplateError(f"messages[{i}].content: {e}", file=str(doc.path), line=line,
                                column=col) from None
        for v in used:
            if v not in declared:
                line, col = doc.where(("messages", i, "content"))
                raise TemplateError(
                    f"messages[{i}].content uses {{{{{v}}}}} but it is not declared; "
                    f"add '{v}' to inputs (declared: {', '.join(sorted(declared)) or 'none'})",
                    file=str(doc.path), line=line, column=col)
    prompt.tools  # noqa: B018  (read and checked now: an error surfaces before any model call)
    check_endpoints(doc)
    schema = prompt.output_schema
    if schema is not None:
        check_json_schema(schema, doc, ("output", "schema"))
    if prompt.output.get("choices") == "label" and prompt.choices is None:
        raise doc.error(("output", "choices"), "`choices: label` takes the label assertion's values, but the prompt "
                                               "has no label assertion with a value; list the choices instead")
    if prompt.output.get("choices") is not None and schema is not None:
        raise doc.error(("output", "choices"), "use either output.choices or output.schema, not both")
    check_calibration(prompt, doc)
    # Assertion types are checked by the schema's enum (a test keeps it equal to the scoring registry).
    for i, a in enumerate(prompt.data.get("assertions", [])):
        check_assertion(a, doc, ("assertions", i))
        if a["type"] == "json_schema" and a.get("value") is not None:
            check_json_schema(a["value"], doc, ("assertions", i, "value"))
        if a["type"] == "json_schema" and a.get("value") is None and schema is None:
            raise doc.error(("assertions", i), "json_schema needs a value or output.schema in the prompt")


def messages_fingerprint(messages: list[dict[str, Any]]) -> str:
    """A short hash of what the messages say (each item's role, content and placeholder): a calibration names the
    messages it was fitted to by it."""
    import hashlib
    import json

    said = [[m.get("role"), m.get("content"), m.get("placeholder")] for m in messages]
    return "sha256:" + hashlib.sha256(json.dumps(said, ensure_ascii=False).encode()).hexdigest()[:16]


def check_calibration(prompt: Prompt, doc: Document) -> None:
    """A calibration needs a closed set, and a bias only for its choices (the schema checks the shape)."""
    calibration = prompt.output.get("calibration")
    if calibration is None:
        return
    if prompt.choices is None:
        raise doc.error(("output", "calibration"), "a calibration shifts the scores of a closed set's choices, "
                                                   "but this prompt answers in free text; remove it")
    unknown = sorted(set(calibration["bias"]) - set(prompt.choices))
    if unknown:
        raise doc.error(("output", "calibration", "bias"), f"bias for {', '.join(map(repr, unknown))}, which "
                                                           f"is not a choice ({', '.join(prompt.choices)})")


def check_assertion(a: dict[str, Any], doc: Document, path: tuple[str | int, ...]) -> None:
    """What the schema cannot say about an assertion's value, checked before any model call is paid for."""
    problem = TYPES[a["type"]].value(a.get("value"))
    if problem:
        raise doc.error((*path, "value") if "value" in a else path, problem)


def load_prompt(config: Config, name_or_path: str) -> Prompt:
    path = resolve_prompt_path(config, name_or_path)
    doc = load_validated(path, "prompt")
    prompt = Prompt(name=path.stem, path=path, data=doc.data, doc=doc)
    _check_prompt(prompt)
    return prompt


def prompt_from_text(name: str, path: Path, text: str) -> Prompt:
    """A prompt parsed from text (e.g. an older git revision), checked like a file."""
    from promptloop.repo.files import load_yaml, validate

    doc = load_yaml(path, text)
    if not isinstance(doc.data, dict):
        raise doc.error((), "expected a mapping at the top of the file")
    validate(doc, "prompt")
    prompt = Prompt(name=name, path=path, data=doc.data, doc=doc)
    _check_prompt(prompt)
    return prompt


def resolve_prompt_path(config: Config, name_or_path: str) -> Path:
    candidates = [Path(name_or_path), config.root / name_or_path,
                  config.prompts_dir / f"{name_or_path}.yaml", config.prompts_dir / f"{name_or_path}.yml"]
    for c in candidates:
        if c.suffix in (".yaml", ".yml") and c.is_file():
            if not c.resolve().is_relative_to(config.root.resolve()):
                raise ConfigError(f"{c} is outside the prompt repo {config.root}; prompts live in its prompts/ "
                                  "directory (copy the file there)")
            return c.resolve()
    known = ", ".join(sorted(p.stem for p in list_prompt_paths(config))) or "none"
    raise ConfigError(f"no prompt '{name_or_path}' in {config.prompts_dir}; known prompts: {known}")


def list_prompt_paths(config: Config) -> list[Path]:
    if not config.prompts_dir.is_dir():
        return []
    return sorted([*config.prompts_dir.glob("*.yaml"), *config.prompts_dir.glob("*.yml")])


def golden_path(config: Config, prompt: Prompt, override: str | None = None) -> Path:
    name = override or prompt.golden_name
    for c in (Path(name), config.root / name, config.golden_dir / f"{name}.yaml", config.golden_dir / f"{name}.yml"):
        if c.suffix in (".yaml", ".yml") and c.is_file():
            return c.resolve()
    raise ConfigError(f"golden set '{name}' not found in {config.golden_dir}; create golden/{name}.yaml "
                      f"or set `golden:` in the prompt", file=str(prompt.path))


def load_golden(path: Path, prompt: Prompt | None = None, text: str | None = None) -> GoldenSet:
    from promptloop.repo.files import load_yaml, validate

    doc = load_yaml(path, text)
    if doc.data is None:
        doc.data = {"cases": []}
    if not isinstance(doc.data, dict):
        raise doc.error((), "expected a mapping with `cases:` at the top of the file")
    validate(doc, "golden")
    cases = []
    seen: set[str] = set()
    for i, c in enumerate(doc.data["cases"]):
        cid = str(c["id"])
        if cid in seen:
            raise doc.error(("cases", i, "id"), f"duplicate case id '{cid}'; ids must be unique")
        seen.add(cid)
        for j, a in enumerate(c.get("assertions", [])):
            check_assertion(a, doc, ("cases", i, "assertions", j))
        check_case(c, prompt.placeholders if prompt is not None else [], doc, i)
        if prompt is not None:
            missing = [v for v in prompt.inputs if v not in c["inputs"]]
            if missing:
                raise doc.error(("cases", i, "inputs"),
                                f"case '{cid}' is missing input {', '.join(repr(m) for m in missing)} "
                                f"declared by {prompt.path.name}")
        cases.append(Case(id=cid, inputs=dict(c["inputs"]), expected=c.get("expected"),
                          tags=list(c.get("tags", [])),
                          assertions=[Assertion.from_dict(a) for a in c.get("assertions", [])],
                          review=bool(c.get("review", False))))
    return GoldenSet(name=path.stem, path=path, cases=cases, doc=doc)


def module_file(root: Path, module_name: str) -> Path | None:
    """The file of ``module_name`` inside ``root`` (``pkg.mod`` is ``pkg/mod.py`` or ``pkg/mod/__init__.py``),
    or None if it is not a file of the repo — a symlink pointing out of it included."""
    if not module_name or not all(part.isidentifier() for part in module_name.split(".")):
        return None
    base = root.joinpath(*module_name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file() and path.resolve().is_relative_to(root.resolve()):
            return path
    return None


def python_check_errors(config: Config, prompt: Prompt, golden: GoldenSet | None) -> list[ConfigError]:
    """``python:`` checks of the prompt and its cases that name no module of the repo."""
    errors = _missing_check_modules(config, prompt.doc, prompt.data.get("assertions", []), ("assertions",))
    for i, c in enumerate(golden.doc.data["cases"] if golden is not None and golden.doc else []):
        errors += _missing_check_modules(config, golden.doc if golden else None, c.get("assertions", []),
                                         ("cases", i, "assertions"))
    return errors


def _missing_check_modules(config: Config, doc: Document | None, assertions: list[dict[str, Any]],
                           path: tuple[str | int, ...]) -> list[ConfigError]:
    """``python:`` checks whose module is not a file of the repo (they would fail every case, after paying)."""
    out = []
    for j, a in enumerate(assertions):
        if a.get("type") != "python" or doc is None:
            continue
        module = str(a.get("value", "")).partition(":")[0]
        if module_file(config.root, module) is None:
            out.append(doc.error((*path, j, "value"), f"python check module '{module}' is not a file in the prompt "
                                                     f"repo ({module.replace('.', '/')}.py); python checks run only "
                                                     "the repo's own code"))
    return out


def models_in_use(config: Config, prompts: list[Prompt] | None = None) -> dict[tuple[str, str | None], list[str]]:
    """Every (model, api_base) the repo names, with who uses it: the roles and prompts that set their own.
    ``prompts``: the repo's prompts already loaded (else they are loaded here, those that fail skipped)."""
    from promptloop.repo.config import ROLES

    rows: dict[tuple[str, str | None], list[str]] = {}
    for role in ROLES:
        ref = config.model(role)
        rows.setdefault((ref.name, ref.api_base), []).append(role)
    for prompt in loadable_prompts(config) if prompts is None else prompts:
        settings = prompt.model_settings
        if settings.get("name"):
            rows.setdefault((settings["name"], settings.get("api_base")), []).append(f"prompt {prompt.path.stem}")
    return rows


def loadable_prompts(config: Config) -> list[Prompt]:
    """The repo's prompts that load (those that do not are validate's to report)."""
    out = []
    for path in list_prompt_paths(config):
        try:
            out.append(load_prompt(config, str(path)))
        except ConfigError:
            continue
    return out
