"""Trace formats: one module per export format, each with ``NAME``, ``detect(record)`` and ``parse(record, state)``.

To add a format, write a module beside these and put it in ``DETECTION_ORDER``: the first format
whose ``detect`` says yes parses the record (so put narrow formats before broad ones).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from promptloop.traces.formats import (
    genai_attributes,
    langfuse,
    langsmith,
    mlflow,
    mlflow_assessment,
    openai_batch,
    openai_completion,
    openai_eval,
    openai_log,
    openinference,
    otlp,
    promptloop,
)
from promptloop.traces.formats.base import ImportState, Parsed, RecordError

# Which format claims a record: the first whose detect() is true.
DETECTION_ORDER: tuple[ModuleType, ...] = (
    promptloop, openai_batch, openai_log, openai_eval, openai_completion, otlp, openinference, genai_attributes,
    langfuse, langsmith, mlflow, mlflow_assessment,
)
BY_NAME = {m.NAME: m for m in DETECTION_ORDER}
# The names as documented (README, --format).
FORMATS = ("promptloop", "openai_log", "openai_batch", "openai_completion", "openai_eval", "otlp", "genai_attributes",
           "openinference", "langfuse", "langsmith", "mlflow", "mlflow_assessment")

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
