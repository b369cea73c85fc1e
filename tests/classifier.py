"""A small A/B classifier prompt repo shared by the optimize, regress and GitHub tests: the prompt, its
golden cases (two critical), a fake model that answers right only when the system prompt says MAGIC,
and a real git repository holding them."""

from __future__ import annotations

import contextlib

import pytest

from promptloop.testing import FakeModel, FakeServer
from tests.gitrepo import git, init_repo

PROMPT = """\
# Classifier used by the tests.
description: Tell A items from B items.
model:
  temperature: 0
inputs: [q]
messages:
  - role: system
    content: |
      Classify the item.
  - role: user
    content: "Item: {{q}}"
# the checks
assertions:
  - type: label
    value: [A, B]
golden: cls
"""

CASES = [("c1", "apple pie recipe", "A", True), ("c2", "banana bread loaf", "B", True),
         ("c3", "apricot jam jar", "A", False), ("c4", "blueberry muffin tin", "B", False),
         ("c5", "avocado toast plate", "A", False), ("c6", "blackberry tart shell", "B", False),
         ("c7", "almond milk carton", "A", False), ("c8", "brownie batter bowl", "B", False),
         ("c9", "artichoke dip bowl", "A", False), ("c10", "bagel with cream cheese", "B", False)]


def golden_yaml() -> str:
    lines = ["cases:"]
    for cid, q, exp, critical in CASES:
        lines.append(f"  - id: {cid}\n    inputs: {{q: {q}}}\n    expected: {exp}")
        if critical:
            lines.append("    tags: [critical]")
    return "\n".join(lines) + "\n"


CONFIG = "models:\n  task: fake/task\n  proposer: fake/proposer\n  judge: fake/judge\nbranch_prefix: pl\n"
EXPECTED = {q: exp for _, q, exp, _ in CASES}

OTHER = PROMPT.replace("Classify the item.", "Other prompt.").replace("golden: cls", "golden: cls")


def answer(system: str, user: str) -> str:
    q = user.removeprefix("Item: ")
    if "MAGIC" in system:
        return "B" if "BREAK" in system and q == "apple pie recipe" else EXPECTED.get(q, "A")
    return "A"


def fake() -> FakeModel:
    return FakeModel(responder=lambda r: answer(r.messages[0]["content"], r.messages[-1]["content"]))


def with_system(text: str) -> str:
    return PROMPT.replace("Classify the item.", text)


@contextlib.contextmanager
def served(root):
    """Point the repo's task model at a local OpenAI-compatible server (committed, and on `base` too)."""
    with FakeServer(answer=lambda b: answer(b["messages"][0]["content"], b["messages"][-1]["content"])) as server:
        cfg = CONFIG.replace("task: fake/task", f"task: {{name: openai/x, api_base: '{server.api_base}'}}")
        (root / "promptloop.yaml").write_text(cfg)
        git(root, "commit", "-q", "-m", "use the server", "--", "promptloop.yaml")
        git(root, "branch", "-f", "base")
        yield server


@pytest.fixture
def rrepo(tmp_path):
    root = tmp_path / "r"
    init_repo(root, {"promptloop.yaml": CONFIG, "prompts/cls.yaml": with_system("Classify the item. MAGIC"),
                     "prompts/other.yaml": OTHER, "golden/cls.yaml": golden_yaml(), ".gitignore": ".promptloop/\n"})
    git(root, "branch", "base")
    return root
