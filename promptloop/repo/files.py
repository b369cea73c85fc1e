"""Reading the prompt repo's YAML files: positions kept, validated against the shipped schemas.

Every error names file:line:column, the field and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from promptloop.errors import ConfigError

_STR = "tag:yaml.org,2002:str"
_RESOLVED: dict[tuple[str, tuple[bool, bool]], str] = {}  # a plain scalar's text -> its tag (the rules are fixed)


class _MemoResolver:
    """The safe loader's tag resolution, remembered per scalar text: a golden set repeats the same keys and
    values thousands of times, and resolving each with the resolver's regular expressions is most of the
    C loader's time on it."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is not yaml.ScalarNode or not isinstance(value, str) or len(value) > 64:
            return super().resolve(kind, value, implicit)  # type: ignore[misc]
        key = (value, tuple(implicit))
        tag = _RESOLVED.get(key)
        if tag is None:
            if len(_RESOLVED) > 50_000:
                _RESOLVED.clear()
            tag = _RESOLVED[key] = super().resolve(kind, value, implicit)  # type: ignore[misc]
        return tag


try:  # the C loader is several times faster on large golden sets
    class _CLoader(_MemoResolver, yaml.CSafeLoader):
        pass

    _Loader: Any = _CLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

SCHEMA_NAMES = ("prompt", "golden", "config", "trace", "labels")

Path_ = tuple[str | int, ...]


@dataclass
class Document:
    """A parsed YAML file with the line and column of every value."""

    path: Path
    data: Any
    positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path_) -> tuple[int | None, int | None]:
        """Line and column of the nearest located ancestor of ``path``."""
        p = tuple(path)
        while True:
            if p in self.positions:
                return self.positions[p]
            if not p:
                return None, None
            p = p[:-1]

    def error(self, path: Path_, message: str) -> ConfigError:
        line, col = self.where(path)
        return ConfigError(message, file=str(self.path), line=line, column=col)


def _walk(node: yaml.Node, path: Path_, positions: dict[Path_, tuple[int, int]], file: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _walk(key_node, path, {}, file)
            if isinstance(key, (dict, list)):
                raise ConfigError("a mapping key must be a plain value", file=file,
                                  line=key_node.start_mark.line + 1, column=key_node.start_mark.column + 1)
            if key in out:
                raise ConfigError(f"duplicate key '{key}'", file=file,
                                  line=key_node.start_mark.line + 1, column=key_node.start_mark.column + 1)
            child = (*path, key)
            positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = _walk(value_node, child, positions, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            child = (*path, i)
            positions[child] = (item.start_mark.line + 1, item.start_mark.column + 1)
            items.append(_walk(item, child, positions, file))
        return items
    if node.tag == _STR:  # what the constructor would return for a string, without its machinery
        return node.value
    return _constructor().construct_object(node, deep=True)


@cache
def _constructor() -> Any:
    return yaml.SafeLoader("")


# Bounds on what one YAML document may cost: a few hundred bytes of nested aliases ("billion laughs")
# otherwise expand to gigabytes, and deep nesting exhausts the stack.
MAX_BYTES = 64 * 1024 * 1024
MAX_NODES = 1_000_000
MAX_DEPTH = 64


def check_size(root: yaml.Node | None, file: str) -> None:
    """Reject a composed document whose expansion (aliases followed) or depth is beyond the bounds."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise ConfigError(f"nested deeper than {MAX_DEPTH} levels; flatten the document", file=file,
                              line=node.start_mark.line + 1)
        key = id(node)
        if key in sizes:  # an alias: counted again each time it is used, but computed once
            return sizes[key]
        n = 1
        if isinstance(node, yaml.MappingNode):
            n += sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            n += sum(size(v, depth + 1) for v in node.value)
        if n > MAX_NODES:
            raise ConfigError(f"expands to more than {MAX_NODES:,} values (YAML aliases used over and over); "
                              "write the values out or use fewer aliases", file=file, line=node.start_mark.line + 1)
        sizes[key] = n
        return n

    if root is not None:
        size(root, 0)


class _DepthBoundedLoader(yaml.SafeLoader):
    """The pure-Python loader, refusing nesting beyond ``MAX_DEPTH`` as it composes (so never a RecursionError)."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise ConfigError(f"nested deeper than {MAX_DEPTH} levels; flatten the document",
                                  file=self.name, line=mark.line + 1, column=mark.column + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _compose(text: str, file: str) -> yaml.Node | None:
    loader = _DepthBoundedLoader(text)
    loader.name = file
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def compose_bounded(text: str, file: str, loader: Any = None) -> yaml.Node | None:
    """``yaml.compose`` with bounded size, depth and alias expansion; every failure one ConfigError or
    one ``yaml.MarkedYAMLError`` with its position.

    The fast C parser (``loader``) reads valid documents; whatever it refuses is read again by the
    pure-Python one, whose own depth bound and error positions are what the user sees, whatever limits
    and wording the installed libyaml has."""
    if len(text) > MAX_BYTES:
        raise ConfigError(f"larger than {MAX_BYTES // 2**20} MB; split it", file=file)
    try:
        node = yaml.compose(text, Loader=loader) if loader is not None else _compose(text, file)
    except yaml.YAMLError:
        if loader is None:
            raise
        node = _compose(text, file)
    check_size(node, file)
    return node


def safe_load_bounded(text: str, file: str) -> Any:
    """``yaml.safe_load`` for untrusted text (e.g. cassettes), with the same bounds as the repo's files."""
    node = compose_bounded(text, file)
    return None if node is None else yaml.SafeLoader("").construct_document(node)


def load_yaml(path: Path, text: str | None = None) -> Document:
    """Parse ``path`` (or ``text`` as if it were that file) keeping positions."""
    file = str(path)
    if text is None:
        try:
            if path.stat().st_size > MAX_BYTES:
                raise ConfigError(f"larger than {MAX_BYTES // 2**20} MB; split it", file=file)
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError("file not found", file=file) from None
        except UnicodeDecodeError as e:
            raise ConfigError(f"not UTF-8 text ({e.reason}); save it as UTF-8", file=file) from None
    try:
        node = compose_bounded(text, file, _Loader)
    except yaml.MarkedYAMLError as e:
        raise yaml_error(e, file) from None
    except yaml.reader.ReaderError as e:  # a character YAML does not allow: where it is, on one line
        line = text.count("\n", 0, e.position) + 1
        column = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        raise ConfigError(f"invalid YAML: character #x{e.character if isinstance(e.character, int) else 0:04x} is "
                          "not allowed in YAML; remove it", file=file, line=line, column=column) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {str(e).splitlines()[0]}", file=file) from None
    positions: dict[Path_, tuple[int, int]] = {}
    data = None if node is None else _walk(node, (), positions, file)
    if node is not None:
        positions[()] = (node.start_mark.line + 1, node.start_mark.column + 1)
    return Document(path=path, data=data, positions=positions)


def yaml_error(e: yaml.MarkedYAMLError, file: str) -> ConfigError:
    """One line at the place to fix: an unclosed quote where it opens, not at the end of the file."""
    mark, problem = e.problem_mark or e.context_mark, e.problem or e.context or "invalid YAML"
    if e.context and "quoted scalar" in e.context and e.context_mark is not None:
        mark, problem = e.context_mark, "this quoted string is never closed; add its closing quote"
    return ConfigError(f"invalid YAML: {problem}", file=file, line=mark.line + 1 if mark else None,
                       column=mark.column + 1 if mark else None)


@cache
def schema(name: str) -> dict[str, Any]:
    """The JSON Schema shipped for ``name`` (prompt, golden, config, trace)."""
    if name not in SCHEMA_NAMES:
        raise KeyError(name)
    text = resources.files("promptloop.repo").joinpath("schemas", f"{name}.schema.json").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    if name == "prompt":  # derived, never kept by hand: the assertion types promptloop knows
        from promptloop.repo.assertion_types import TYPES

        doc["$defs"]["assertion"]["properties"]["type"]["enum"] = list(TYPES)
    return doc


@cache
def _validator(name: str) -> Any:
    import jsonschema
    from referencing import Registry, Resource

    resources_ = [
        (schema(n)["$id"], Resource.from_contents(schema(n))) for n in SCHEMA_NAMES
    ]
    # Schemas refer to each other by relative name (prompt.schema.json#/...).
    resources_ += [(f"{n}.schema.json", Resource.from_contents(schema(n))) for n in SCHEMA_NAMES]
    registry: Registry[Any] = Registry().with_resources(resources_)
    cls = jsonschema.validators.validator_for(schema(name))
    return cls(schema(name), registry=registry)


def dotted(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


MAX_VALID_MARKERS = 2000


def valid_cache_dir() -> Path:
    base = os.environ.get("PROMPTLOOP_CACHE_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "promptloop")
    return Path(base) / "valid"


@cache
def _schemas_digest() -> str:
    return hashlib.sha256("".join(json.dumps(schema(n), sort_keys=True) for n in SCHEMA_NAMES).encode()).hexdigest()


def _marker(kind: str, data: Any) -> Path:
    # repr, not JSON: it tells a date from a string and 1 from 1.0 and True, as the schema does.
    return valid_cache_dir() / hashlib.sha256(f"{kind}\0{_schemas_digest()}\0{data!r}".encode()).hexdigest()


def found_valid(kind: str, data: Any) -> bool:
    """Whether ``data`` passed the check ``kind`` before (a marker per content in the user's cache)."""
    return _marker(kind, data).exists()


def remember_valid(kind: str, data: Any) -> None:
    """Remember that ``data`` passed the check ``kind``; a read-only home just means checking again."""
    marker = _marker(kind, data)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        old = list(marker.parent.iterdir())
        if len(old) >= MAX_VALID_MARKERS:  # every edit leaves one: start over now and then
            for p in old:
                p.unlink(missing_ok=True)
        marker.touch()
    except OSError:
        pass


def validate(doc: Document, name: str) -> None:
    """Raise a ConfigError for the first schema violation in ``doc``, in file order.

    Content already found valid against these very schemas is remembered (a marker file per content hash
    in the user's cache): jsonschema's import and a 1,000-case golden set took 60 ms of every start-up."""
    if found_valid(name, doc.data):
        return
    errors = list(_validator(name).iter_errors(doc.data))
    if not errors:
        remember_valid(name, doc.data)
        return

    def order(e: Any) -> tuple[int, int, int]:
        line, col = doc.where(_error_path(e))
        return (line or 0, col or 0, -len(e.absolute_path))

    described = [_describe(doc, e) for e in sorted(errors, key=order)]
    first, seen = described[0], {str(described[0])}
    for d in described[1:]:  # one line per place: nested schema branches report the same spot many times
        where = (d.line, d.column)
        if str(d) not in seen and where not in {(o.line, o.column) for o in [first, *first.others]}:
            first.others.append(d)
            seen.add(str(d))
    raise first


def validate_value(doc: Document, name: str, definition: str) -> None:
    """Raise a ConfigError for the first violation of ``doc`` (a list) against ``name``'s ``$defs/definition``
    items (a file of tools is a list of ``prompt.schema.json#/$defs/tool``)."""
    import jsonschema

    outer = _validator(name)
    item = {"type": "array", "items": {"$ref": f"{name}.schema.json#/$defs/{definition}"}}
    errors = list(jsonschema.validators.validator_for(schema(name))(item, registry=outer._registry)
                  .iter_errors(doc.data))
    if errors:
        raise _describe(doc, min(errors, key=lambda e: doc.where(_error_path(e))[0] or 0))


def _error_path(e: Any) -> Path_:
    path = tuple(e.absolute_path)
    if e.validator == "additionalProperties" and isinstance(e.instance, dict):
        allowed = set(e.schema.get("properties", {}))
        extra = [k for k in e.instance if k not in allowed]
        if extra:
            return (*path, extra[0])
    return path


def _describe(doc: Document, e: Any) -> ConfigError:
    path = tuple(e.absolute_path)
    if e.validator == "additionalProperties" and isinstance(e.instance, dict):
        allowed = sorted(e.schema.get("properties", {}))
        extra = [k for k in e.instance if k not in allowed]
        key = extra[0] if extra else "?"
        return doc.error((*path, key), f"unknown key '{key}' in {dotted(path)}; allowed: {', '.join(allowed)}")
    if e.validator == "enum":
        choices = ", ".join(str(v) for v in e.validator_value)
        return doc.error(path, f"{dotted(path)}: {e.instance!r} is not allowed; use one of: {choices}")
    if e.validator == "required":
        return doc.error(path, f"{dotted(path)}: {e.message}")
    if e.validator == "oneOf" and e.context:
        return doc.error(path, f"{dotted(path)}: {e.context[0].message}")
    return doc.error(path, f"{dotted(path)}: {e.message}")


def load_validated(path: Path, name: str) -> Document:
    doc = load_yaml(path)
    if doc.data is None:
        doc.data = {}
    if not isinstance(doc.data, dict):
        raise doc.error((), f"expected a mapping at the top of the file (see `promptloop schema {name}`)")
    validate(doc, name)
    return doc
