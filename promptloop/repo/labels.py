"""Human labels of a prompt's outputs, in git beside its golden set (``golden/labels/<prompt>.yaml``): whether
each output is acceptable, and the judge calibration measured against them (written by ``calibrate``)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptloop.errors import ConfigError
from promptloop.masking import mask_personal, redact_text
from promptloop.repo.config import Config
from promptloop.repo.files import load_validated
from promptloop.repo.rewrite import set_mapping

HEADER = "# Human labels of outputs of prompt '{name}': is each one acceptable? Reviewed like any change.\n"


@dataclass
class Label:
    case: str
    output: str
    acceptable: bool
    by: str = ""  # who labelled it


@dataclass
class Labels:
    path: Path
    labels: list[Label] = field(default_factory=list)
    calibration: dict[str, Any] | None = None


def labels_path(config: Config, prompt: str) -> Path:
    return config.golden_dir / "labels" / f"{prompt}.yaml"


def load_labels(config: Config, prompt: str) -> Labels:
    """The prompt's labels file, or empty labels when it has none."""
    path = labels_path(config, prompt)
    if not path.is_file():
        return Labels(path)
    doc = load_validated(path, "labels")
    data = doc.data or {}
    return Labels(path, [Label(str(x["case"]), x["output"], bool(x["acceptable"]), str(x.get("by", "")))
                         for x in data.get("labels", [])],
                  data.get("calibration"))


def parse_label_file(path: Path) -> list[Label]:
    """Labels from a CSV (columns case, output, acceptable) or JSONL export; one clear error per bad row."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"not UTF-8 text ({e.reason}); save it as UTF-8", file=str(path)) from None
    rows: list[tuple[int, Any]] = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        rows = [(n + 2, row) for n, row in enumerate(reader)]
    else:
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((n, json.loads(line)))
                except ValueError as e:
                    raise ConfigError(f"not JSON ({e})", file=str(path), line=n) from None
    out = []
    for n, row in rows:
        verdict = _verdict(row.get("acceptable")) if isinstance(row, dict) else None
        if not isinstance(row, dict) or not row.get("case") or row.get("output") is None or verdict is None:
            raise ConfigError("a label needs case, output and acceptable (true/false)", file=str(path), line=n)
        out.append(Label(str(row["case"]), str(row["output"]), verdict))
    return out


YES, NO = {"true", "yes", "y", "1", "pass", "ok"}, {"false", "no", "n", "0", "fail"}


def _verdict(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in YES else False if text in NO else None


def as_stored(output: str) -> str:
    """An output as a labels file (in git) holds it: secrets, e-mail addresses and phone numbers masked."""
    return str(mask_personal(redact_text(output)))


def add_labels(config: Config, prompt: str, new: list[Label]) -> Labels:
    """Append ``new`` to the prompt's labels file (created when missing), outputs as :func:`as_stored`; a label
    for the same case and output replaces the earlier one."""
    new = [Label(x.case, as_stored(x.output), x.acceptable, x.by) for x in new]
    current = load_labels(config, prompt)
    keyed = {(x.case, x.output): x for x in current.labels}
    keyed.update({(x.case, x.output): x for x in new})
    labels = list(keyed.values())
    body = "labels:\n" + "".join(f"  - {{case: {json.dumps(x.case)}, acceptable: {str(x.acceptable).lower()}, "
                                 + (f"by: {json.dumps(x.by, ensure_ascii=False)}, " if x.by else "")
                                 + f"output: {json.dumps(x.output, ensure_ascii=False)}}}\n" for x in labels)
    text = HEADER.format(name=prompt) + body
    if current.calibration is not None:
        text = set_mapping(text, "calibration", current.calibration)
    current.path.parent.mkdir(parents=True, exist_ok=True)
    current.path.write_text(text, encoding="utf-8")
    return load_labels(config, prompt)


def write_calibration(labels: Labels, calibration: dict[str, Any]) -> None:
    """Set the file's ``calibration:``; the labels' bytes are kept."""
    text = labels.path.read_text(encoding="utf-8")
    labels.path.write_text(set_mapping(text, "calibration", json.loads(json.dumps(calibration))), encoding="utf-8")
