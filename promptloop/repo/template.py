r"""``{{variable}}`` templates that execute nothing.

Only bare identifiers are substituted, in one pass, so a value that itself
contains ``{{...}}`` (say, from a production trace) is inserted literally.
``\{{`` stands for a literal ``{{``: demonstrations copied into a prompt use it (see :func:`literal`).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

PLACEHOLDER = re.compile(r"\\\{\{|\{\{(.*?)\}\}", re.S)  # an escaped "\{{", or a {{placeholder}}
ESCAPE = "\\{{"


def literal(text: str) -> str:
    """``text`` as template source that renders to exactly ``text`` (its ``{{`` are not placeholders)."""
    return text.replace("{{", ESCAPE)
IDENT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")


class TemplateSyntaxError(ValueError):
    pass


def variables(template: str) -> list[str]:
    """The variables a template uses, in order of first use; rejects anything but ``{{name}}``."""
    seen: list[str] = []
    for m in PLACEHOLDER.finditer(template):
        if m.group(0) == ESCAPE:
            continue
        ident = IDENT.match(m.group(1))
        if not ident:
            raise TemplateSyntaxError(
                f"'{{{{{m.group(1)}}}}}' is not a plain variable; only {{{{name}}}} is allowed "
                "(promptloop templates run no code)"
            )
        if ident.group(1) not in seen:
            seen.append(ident.group(1))
    return seen


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def render(template: str, values: dict[str, Any]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == ESCAPE:
            return "{{"
        ident = IDENT.match(m.group(1))
        if not ident:
            raise TemplateSyntaxError(f"'{m.group(0)}' is not a plain variable")
        return as_text(values[ident.group(1)])

    return PLACEHOLDER.sub(sub, template)


def recover(template: str, rendered: str) -> dict[str, str] | None:
    """Invert ``render``: the variable values that make ``template`` render to ``rendered``.

    Returns None when the text was not produced by this template.
    """
    compiled = _inverse(template)
    if compiled is None:
        return None
    found = compiled.fullmatch(rendered)
    return None if found is None else found.groupdict()


@functools.lru_cache(maxsize=256)
def _inverse(template: str) -> re.Pattern[str] | None:
    pattern = ""
    pos = 0
    names: list[str] = []
    for m in PLACEHOLDER.finditer(template):
        pattern += re.escape(template[pos:m.start()])
        if m.group(0) == ESCAPE:
            pattern += re.escape("{{")
            pos = m.end()
            continue
        ident = IDENT.match(m.group(1))
        if not ident:
            return None
        name = ident.group(1)
        if name in names:
            pattern += f"(?P={name})"
        else:
            pattern += f"(?P<{name}>.*?)"
            names.append(name)
        pos = m.end()
    pattern += re.escape(template[pos:])
    return re.compile(pattern, re.S)
