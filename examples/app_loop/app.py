"""A tiny application that uses a prompt from a promptloop repo and records its calls.

    python app.py REPO TRACES.jsonl

It loads the `sentiment` prompt at its current version, classifies a few reviews with the model the repo
names (the embedded local model by default), records every call, and gives feedback the way a user
would: a thumbs-down and the right label when the answer was wrong.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # offline: litellm reads the price map it ships
import litellm

import promptloop

REVIEWS = [  # (review, what a user would say the right label is)
    ("Arrived quickly and does exactly what it says.", "positive"),
    ("The zipper broke on the first day.", "negative"),
    ("Best purchase I made this year.", "positive"),
    ("Customer service never answered my emails.", "negative"),
    ("Not worth half the price.", "negative"),
    ("My kids use it every day and love it.", "positive"),
]


def main(repo: str, sink: str) -> None:
    promptloop.use_embedded_model()  # lets litellm call local/smollm2, offline
    prompt = promptloop.load("sentiment", repo=repo)
    for review, truth in REVIEWS:
        start = time.perf_counter()
        reply = litellm.completion(**prompt.request(review=review))
        answer = (reply.choices[0].message.content or "").strip()
        trace_id = promptloop.record(prompt, {"review": review}, answer, model=prompt.model,
                                     latency_ms=(time.perf_counter() - start) * 1000, sink=sink,
                                     tokens={"input": reply.usage.prompt_tokens,
                                             "output": reply.usage.completion_tokens})
        right = truth in answer.lower()
        promptloop.feedback(trace_id, thumbs=right, correction=None if right else truth, sink=sink)
        print(f"{'ok ' if right else 'BAD'} {answer[:20]!r:24} {review}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
