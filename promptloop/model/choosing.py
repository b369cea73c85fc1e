"""Closed-set answers on the embedded model: each choice scored, the likeliest one taken.

A closed-set request (``{"answer": <one of the choices>}``) is not generated token by token under a grammar:
the reply's scaffold ``{"answer": "`` is written for the model, and each choice is scored as the rest of the
reply, the sum of its tokens' log-probabilities. The answer is the choice with the highest score plus its
``label_bias`` (a calibration the optimiser fits, see ``optimize/calibration.py``), or, at a temperature above
zero, one drawn in proportion. Generating the scaffold under a grammar let the model split it into tokens it
never writes that way, and its choice then rested on that split.

The closing ``"}`` is not scored: with it, how the model likes to end a reply decided between the choices
(banking card-or-transfer, 200 cases: 0.620 with it, 0.845 without). The price: a choice whose tokens begin
another's (``no`` and ``no way``, where tokenised so) always scores at least as high as the longer one.

The scores (natural-log probabilities, bias not included) are returned with the answer, so a caller can fit a
calibration from them without another call. A calibration may also carry a ``label_lead``: plain text the choice
is scored after instead of the JSON scaffold (``Label: ``). Read so, this model ranks inputs better, though it
leans harder to one answer, so a lead comes only with a bias fitted under it (``optimize/calibration.py``).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from typing import Any, Protocol


class TokenScorer(Protocol):
    """What choosing needs of a model: its tokens and the log-probabilities of the next token."""

    def tokens(self, text: str) -> list[int]: ...

    def next_logprobs(self, tokens: list[int]) -> Sequence[float]:
        """log p(token | tokens) over the vocabulary, for the sequence ``tokens``."""
        ...


def score_choices(model: TokenScorer, prompt: str, key: str, values: list[str],
                  lead: str | None = None) -> tuple[dict[str, float], int, int]:
    """(log-probability of each choice as the rest of the reply, prompt tokens, longest choice's tokens).
    ``lead``: the reply's text before the choice, written as is, in place of the JSON scaffold."""
    head = prompt + ("{" + json.dumps(key) + ': "' if lead is None else lead)
    base = model.tokens(head)
    # Each choice as the model would see it written: after the scaffold JSON-escaped, after a lead as it is.
    seqs = [model.tokens(head + (json.dumps(v)[1:-1] if lead is None else v)) for v in values]
    # Scored from the first token where the scaffold and every reply agree (the tokeniser may merge across it).
    n = min(len(base), *(len(s) - 1 for s in seqs))
    for s in seqs:
        n = next((i for i in range(n) if base[i] != s[i]), n)
    first = model.next_logprobs(base[:n])
    scores = {}
    for v, s in zip(values, seqs, strict=True):
        total = float(first[s[n]])
        for j in range(n + 1, len(s)):
            total += float(model.next_logprobs(s[:j])[s[j]])
        scores[v] = total
    return scores, len(base), max(len(s) - n for s in seqs)


def choose(scores: dict[str, float], bias: dict[str, float] | None, temperature: float, seed: int) -> str:
    """The likeliest choice after ``bias`` (ties: the first listed); above temperature 0 one drawn in
    proportion to exp(score / temperature), reproducibly for a seed."""
    adjusted = {v: s + (bias or {}).get(v, 0.0) for v, s in scores.items()}
    if temperature <= 0:
        return max(adjusted, key=lambda v: adjusted[v])
    top = max(adjusted.values())
    weights = [math.exp((s - top) / temperature) for s in adjusted.values()]
    return random.Random(seed).choices(list(adjusted), weights=weights)[0]


def reply(key: str, choice: str) -> str:
    """The answer in the shape hosted models return under structured output."""
    return json.dumps({key: choice})


def closed_set_answer(model: TokenScorer, prompt: str, key: str, values: list[str],
                      params: dict[str, Any]) -> dict[str, Any]:
    """The embedded engine's reply to a closed-set request (the shape ``LocalEngine.chat`` returns)."""
    lead = params.get("label_lead") if isinstance(params.get("label_lead"), str) else None
    scores, prompt_tokens, answer_tokens = score_choices(model, prompt, key, values, lead)
    bias = params.get("label_bias") if isinstance(params.get("label_bias"), dict) else None
    picked = choose(scores, bias, float(params.get("temperature") or 0.0), int(params.get("seed") or 0))
    return {"text": reply(key, picked), "finish_reason": "stop", "input_tokens": prompt_tokens,
            "output_tokens": answer_tokens, "tool_calls": [], "label_scores": scores}
