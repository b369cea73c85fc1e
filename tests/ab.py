"""An A/B label prompt and its golden cases, as the calibration, judge-noise and migrate tests write them into a
repository: case ``c<i>`` is item ``c<i>`` and expects A for even ``i``, B for odd."""

from __future__ import annotations

PROMPT = """description: classify
inputs: [q]
messages:
  - {role: user, content: "Classify {{q}}"}
assertions:
  - {type: label, value: [A, B]}
"""
JUDGED_PROMPT = PROMPT + "  - {type: llm_judge, value: RUBRIC}\n"  # RUBRIC: replace with the judge's rubric


def ab_cases(n: int) -> dict[str, str]:
    return {f"c{i}": "AB"[i % 2] for i in range(n)}


def golden_yaml(cases: dict[str, str]) -> str:
    return "cases:\n" + "".join(f"  - {{id: {c}, inputs: {{q: {c}}}, expected: {v}}}\n" for c, v in cases.items())
