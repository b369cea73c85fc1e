"""Feedback into a verdict per trace (pass / fail / unknown, with a reason), and traces
matched to the prompts that produced them, with their input variables recovered."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptloop.repo.assertion_types import TYPES
from promptloop.repo.prompts import Case, Prompt
from promptloop.repo.template import recover
from promptloop.scoring import assertions as A
from promptloop.traces.store import Feedback, Trace

LOWER_IS_BETTER = ("halluc", "toxic", "bias", "harm", "error")


def explicit(feedback: list[Feedback], output: str) -> tuple[str, str] | None:
    """The verdict stated by people or evaluators, or None when they said nothing usable."""
    fails: list[str] = []
    passes: list[str] = []
    for f in feedback:
        label = f" '{f.name}'" if f.name else ""
        if f.kind == "thumbs" and isinstance(f.value, bool):
            (passes if f.value else fails).append(f"thumbs {'up' if f.value else 'down'}{label}")
        elif f.kind == "correction" and f.value is not None:
            if A.normalise(f.value) == A.normalise(output):
                passes.append(f"correction{label} confirms the output")
            else:
                fails.append(f"corrected{label}: {A.normalise(f.value)[:60]}")
        elif f.kind == "eval" and isinstance(f.value, bool):
            (passes if f.value else fails).append(f"evaluator{label} {'passed' if f.value else 'failed'}")
        elif f.kind == "score" and isinstance(f.value, (int, float)) and not isinstance(f.value, bool) \
                and 0 <= f.value <= 1:
            lower = any(w in f.name.lower() for w in LOWER_IS_BETTER)
            good = f.value <= 0.5 if lower else f.value >= 0.5
            (passes if good else fails).append(f"score{label} {f.value:g}")
    if fails:
        return "fail", "; ".join(fails)
    if passes:
        return "pass", "; ".join(passes)
    return None


def programmatic(trace: Trace, prompt: Prompt | None) -> tuple[str, str] | None:
    """The prompt's own hard assertions over the stored output (those that need no expected value,
    unless a correction supplies one)."""
    if prompt is None or trace.output is None:
        return None
    case = Case(id=trace.id, inputs=trace.inputs or {}, expected=trace.expected)
    ctx = A.Context(output_schema=prompt.output_schema)
    checked = []
    for a in prompt.assertions:
        if not TYPES[a.type].hard or (TYPES[a.type].needs_expected and trace.expected is None):
            continue
        if a.type == "label" and trace.expected is None:
            predicted = A.extract_label(trace.output_text, [str(x) for x in a.value or []])
            if predicted is None:
                return "fail", f"label: no single label of {a.value} in the output"
            checked.append("label")
            continue
        r = A.run(trace.output_text, a, case, ctx)
        if not r.passed:
            return "fail", f"{a.type}: {r.reason}"
        checked.append(a.type)
    return ("pass", "passes " + ", ".join(checked)) if checked else None


def decide(trace: Trace, feedback: list[Feedback], prompt: Prompt | None) -> tuple[str, str]:
    said = explicit(feedback, trace.output_text) or programmatic(trace, prompt) or ("unknown", "no feedback")
    if said[0] == "pass" and not trace.output_text.strip():
        # Feedback on a whole trace (or a lenient check) must not pass a call whose answer was not recorded.
        return "unknown", f"no answer recorded, so it cannot pass ({said[1]})"
    return said


@dataclass
class Matcher:
    """Recognises which prompt rendered a trace's messages, recovering its variables."""

    prompts: dict[str, Prompt]
    versions: dict[str, str | None]
    history: dict[str, set[str]] = field(default_factory=dict)  # every version each prompt file has had
    keep_personal_data: bool = False  # traces.keep_personal_data: else e-mails and phone numbers are masked
    pseudonym_key: bytes = b""  # the store's own key for ids that are e-mail addresses (pseudonym_key())

    def match(self, trace: Trace, forced: str | None = None) -> tuple[str | None, dict[str, Any] | None]:
        if trace.prompt and trace.prompt_version and trace.inputs is not None and not forced:
            return trace.prompt, trace.inputs  # named with its exact version by the app: never guessed
        names = [forced] if forced else ([trace.prompt] if trace.prompt in self.prompts else list(self.prompts))
        for name in names:
            prompt = self.prompts.get(name or "")
            if prompt is None:
                continue
            inputs = self._recover(prompt, trace.messages)
            if inputs is not None:
                return name, inputs
        return forced or trace.prompt, trace.inputs

    @staticmethod
    def _recover(prompt: Prompt, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
        template = prompt.messages
        found: dict[str, Any] = {}
        holes = [i for i, t in enumerate(template) if "placeholder" in t]
        if len(holes) > 1:
            return None  # which turns fill which placeholder is not decidable from the messages alone
        if holes:  # the turns between the template's head and tail are the case's conversation
            i, tail = holes[0], len(template) - holes[0] - 1
            if len(messages) < len(template) - 1:
                return None
            found[str(template[i]["placeholder"])] = messages[i:len(messages) - tail]
            template, messages = [*template[:i], *template[i + 1:]], [*messages[:i], *messages[len(messages) - tail:]]
        if len(template) != len(messages):
            return None
        for t, m in zip(template, messages, strict=False):
            if t.get("role") != m.get("role"):
                return None
            values = recover(str(t.get("content") or ""), str(m.get("content") or ""))
            if values is None:
                return None
            for k, v in values.items():
                if found.setdefault(k, v) != v:
                    return None
        return found


def pseudonym_key(cache_dir: Path) -> bytes:
    """The random key the trace store's pseudonyms are made with, kept beside it (never in git): created on
    first use, the same for every process of an import and every later one."""
    path = cache_dir / "pseudonym.key"
    if not path.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "xb") as fh:  # exclusive: two processes never write two keys
                fh.write(os.urandom(32).hex().encode())  # text: a diff or a listing shows no binary
        except FileExistsError:
            pass
    return path.read_bytes()[:64]  # blake2b takes keys of up to 64 bytes
