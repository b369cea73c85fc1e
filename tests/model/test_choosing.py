"""Closed-set answers by scoring each choice (model/choosing.py), on a tiny model whose next-token
log-probabilities are a table."""

from __future__ import annotations

import json
import math

import pytest

from promptloop.model.choosing import choose, closed_set_answer, score_choices


class TableModel:
    """Characters are tokens; the next character's log-probability is looked up by what came before,
    uniform over the rest of a small alphabet otherwise. Records every sequence it is asked about."""

    ALPHABET = "abcdefghijklmnopqrstuvwxyz{}\\\": "

    def __init__(self, table: dict[str, dict[str, float]]) -> None:
        self.table, self.asked = table, []

    def tokens(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def next_logprobs(self, tokens: list[int]) -> list[float]:
        text = "".join(map(chr, tokens))
        self.asked.append(text)
        probs = {c: 1.0 for c in self.ALPHABET}
        for prefix, nxt in self.table.items():
            if text.endswith(prefix):
                probs.update(nxt)
        total = sum(probs.values())
        return [math.log(probs.get(chr(i), 1e-9) / total) for i in range(128)]


HEAD = 'PROMPT{"answer": "'


def test_each_choice_is_scored_as_the_whole_rest_of_the_reply():
    # "no" is likelier at its first token, but "nope" carries the mass once "no" is written: sequences count.
    model = TableModel({HEAD: {"n": 50.0, "y": 30.0}, HEAD + "n": {"o": 100.0}, HEAD + "y": {"e": 100.0},
                        HEAD + "ye": {"s": 100.0}})
    scores, prompt_tokens, answer_tokens = score_choices(model, "PROMPT", "answer", ["yes", "no"])
    assert prompt_tokens == len(HEAD) and answer_tokens == 3
    assert scores["yes"] == pytest.approx(sum(model.next_logprobs(model.tokens(HEAD + "yes"[:i]))[ord("yes"[i])]
                                              for i in range(3)))
    assert scores["no"] > scores["yes"]  # n is likelier than y, and each continues almost surely


def test_a_value_is_scored_as_json_writes_it():
    model = TableModel({})
    score_choices(model, "P", "answer", ['say "hi"'])
    assert any(a.endswith('say \\"h') for a in model.asked)  # the escaped quote is part of the scored reply


def test_after_a_lead_a_value_is_scored_as_written_and_the_lead_is_sent_by_the_request():
    model = TableModel({"P" + "Label: ": {"n": 50.0, "y": 1.0}})
    _, prompt_tokens, _ = score_choices(model, "P", "answer", ['say "hi"', "no"], lead="Label: ")
    assert prompt_tokens == len("PLabel: ")
    assert any(a.endswith('say "h') for a in model.asked) and not any("{" in a for a in model.asked)
    out = closed_set_answer(model, "P", "answer", ["yes", "no"], {"label_lead": "Label: "})
    assert json.loads(out["text"]) == {"answer": "no"}  # the lead's table decides; the reply keeps its JSON shape
    assert closed_set_answer(TableModel({HEAD: {"y": 50.0}}), "PROMPT", "answer", ["yes", "no"],
                             {})["text"] == '{"answer": "yes"}'  # no lead: the JSON scaffold's table decides


@pytest.mark.parametrize("scores, bias, expected", [
    ({"a": -1.0, "b": -2.0}, None, "a"),
    ({"a": -1.0, "b": -2.0}, {"b": 1.5}, "b"),          # the calibration moves the decision
    ({"a": -1.0, "b": -2.0}, {"b": 0.5}, "a"),          # but only as far as it reaches
    ({"a": -1.0, "b": -1.0}, None, "a"),                # a tie: the first listed
    ({"a": -1.0, "b": -2.0}, {"zzz": 9.0}, "a"),        # a bias for no choice changes nothing
])
def test_the_likeliest_choice_after_the_bias(scores, bias, expected):
    assert choose(scores, bias, 0.0, 0) == expected


def test_sampling_follows_the_scores_and_is_reproducible():
    scores = {"a": math.log(0.8), "b": math.log(0.2)}
    draws = [choose(scores, None, 1.0, seed) for seed in range(2000)]
    assert 0.75 < draws.count("a") / len(draws) < 0.85
    assert draws == [choose(scores, None, 1.0, seed) for seed in range(2000)]


def test_the_reply_has_the_structured_output_shape_and_carries_the_scores():
    model = TableModel({HEAD: {"y": 10.0}, HEAD + "y": {"e": 100.0}, HEAD + "ye": {"s": 100.0},
                        HEAD + "n": {"o": 100.0}})
    out = closed_set_answer(model, "PROMPT", "answer", ["yes", "no"], {"temperature": 0})
    assert json.loads(out["text"]) == {"answer": "yes"} and out["tool_calls"] == []
    assert set(out["label_scores"]) == {"yes", "no"}
    flipped = closed_set_answer(model, "PROMPT", "answer", ["yes", "no"], {"label_bias": {"no": 20.0}})
    assert json.loads(flipped["text"]) == {"answer": "no"}
    assert flipped["label_scores"] == out["label_scores"]  # the scores are the model's, without the bias
