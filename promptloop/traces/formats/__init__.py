"""Trace formats: one module per export format, each with ``NAME``, ``detect(record)`` and ``parse(record, state)``.

To add a format, write a module beside these with ``NAME``, ``PRECEDENCE``, ``detect`` and ``parse``: it is
found by its ``NAME``, and the first format (by ``PRECEDENCE``) whose ``detect`` says yes parses a record,
so narrow formats take a lower number than broad ones. ``--format`` and its error list come from here.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any

from promptloop.traces.formats import openai_batch
from promptloop.traces.formats.base import ImportState, Parsed, RecordError


def _format_modules() -> tuple[ModuleType, ...]:
    """Every module of this package that defines ``NAME``: the formats, in their ``PRECEDENCE``."""
    found = [importlib.import_module(f"{__name__}.{m.name}") for m in pkgutil.iter_modules(__path__)]
    return tuple(sorted((m for m in found if hasattr(m, "NAME")), key=lambda m: m.PRECEDENCE))


# Which format claims a record: the first whose detect() is true.
DETECTION_ORDER: tuple[ModuleType, ...] = _format_modules()
BY_NAME = {m.NAME: m for m in DETECTION_ORDER}
FORMATS = tuple(BY_NAME)  # what --format accepts besides auto

__all__ = ["FORMATS", "ImportState", "Importer", "Parsed", "RecordError", "detect"]


def detect(r: Any) -> str | None:
    if not isinstance(r, dict):
        return None
    return next((m.NAME for m in DETECTION_ORDER if m.detect(r)), None)


class Importer(ImportState):
    """Turns records into traces; keeps the state that spans records (Batch joins)."""

    def __init__(self, fmt: str = "auto") -> None:
        super().__init__()
        self.fmt = fmt
        self.last = ""  # the format of the record parsed last

    def parse(self, record: Any, detected: str | None = None) -> Parsed:
        """``record``'s calls and feedback; ``detected`` is its format when the caller already looked."""
        name = (detected or detect(record)) if self.fmt == "auto" else self.fmt
        if name is None:
            keys = ", ".join(list(record)[:6]) if isinstance(record, dict) else type(record).__name__
            raise RecordError(f"unrecognised record (keys: {keys}); pass --format NAME, one of: {', '.join(FORMATS)}")
        self.last = name
        try:
            parsed: Parsed = BY_NAME[name].parse(record, self)
            return parsed
        except RecordError:
            raise
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as e:
            raise RecordError(f"not a valid {name} record: {e.__class__.__name__} {e}") from None

    def finish(self) -> tuple[Parsed, dict[str, dict[str, Any]]]:
        """Batch outputs whose input never came (stored without messages, completed when it comes), and the
        inputs whose output did not come in this import (the store may hold it from an earlier one)."""
        out, problems = Parsed(), []
        for cid, o in self.batch_outputs.items():
            try:
                out.traces.append(openai_batch.batch_trace(cid, None, o))
            except RecordError as e:
                problems.append(str(e))
        out.skipped += problems
        inputs = dict(self.batch_inputs)
        self.batch_inputs.clear()
        self.batch_outputs.clear()
        return out, inputs
