"""Calibration of a closed set's answers: a bias per choice, fitted without reading a label.

A small model prefers some answers whatever it reads, while its scores may still rank the inputs well. The bias
is fitted so that, on average over the golden set's inputs, each choice's log-probability among the choices
equals the log of its share of the golden labels (batch calibration, Zhou et al. 2023, with those shares as the
target instead of uniform). The labels enter only through their shares, never case by case, so scoring the
calibrated prompt on the same cases does not score it on what it was fitted to. Pure functions:
``optimize/search.py`` supplies the scores its evaluations returned.
"""

from __future__ import annotations

import math

from promptloop.optimize.candidates import Candidate, make
from promptloop.repo.prompts import Case, Prompt

MIN_INPUTS = 10  # fewer inputs than this give a mean too noisy to shift every answer by


def normalised(scores: dict[str, float], choices: list[str]) -> dict[str, float]:
    """Log-probabilities among the choices only (they sum to one over the closed set)."""
    top = max(scores[c] for c in choices)
    total = top + math.log(sum(math.exp(scores[c] - top) for c in choices))
    return {c: scores[c] - total for c in choices}


def label_shares(labels: list[str], choices: list[str]) -> dict[str, float]:
    """Each choice's share of the golden labels, add-one smoothed (a choice no case expects still gets some)."""
    counts = {c: 1 + sum(1 for x in labels if x == c) for c in choices}
    total = sum(counts.values())
    return {c: n / total for c, n in counts.items()}


def fit_bias(scores: list[dict[str, float]], shares: dict[str, float]) -> dict[str, float] | None:
    """The bias per choice, relative to the first choice (which gets 0), rounded for a readable diff; None with
    fewer than ``MIN_INPUTS`` scored inputs."""
    choices = list(shares)
    rows = [normalised(s, choices) for s in scores if all(c in s for c in choices)]
    if len(rows) < MIN_INPUTS:
        return None
    raw = {c: math.log(shares[c]) - sum(r[c] for r in rows) / len(rows) for c in choices}
    return {c: round(raw[c] - raw[choices[0]], 3) for c in choices}


def calibrated_variant(base: Candidate, prompt: Prompt, model: str, scores: dict[str, dict[str, float]] | None,
                       cases: dict[str, Case]) -> Candidate | None:
    """``base`` with a calibration fitted on its own ``scores`` (per golden case it was evaluated on; the cases'
    labels give only their shares), or None when the model gave no scores, there is too little to fit on, or
    the calibration would change nothing."""
    choices = base.prompt(prompt).choices
    if not choices or not scores:
        return None
    ids = [i for i in scores if i in cases]
    labels = [str(cases[i].expected) for i in ids if cases[i].expected is not None]
    output = base.output if base.output is not None else prompt.output
    bias = fit_bias([scores[i] for i in ids], label_shares(labels, choices))
    if bias is None or not any(bias.values()):
        return None
    calibration = {"model": model, "bias": bias}
    if output.get("calibration") == calibration:
        return None
    return make(base.messages, "calibrated", "each answer's score shifted so its answers spread as the golden "
                f"labels do ({', '.join(f'{c} {b:+.2f}' for c, b in bias.items())})", base.id, base.demos,
                output={**output, "calibration": calibration}, tools=base.tools)
