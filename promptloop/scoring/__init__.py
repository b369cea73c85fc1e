"""Scoring: a prompt and its golden cases in, per-case results, metrics and reports out.

``assertions`` holds one pure check function per type in a registry (hard checks gate, soft ones
score); ``evaluate`` runs cases through a model client; ``metrics`` and ``significance`` summarise
and compare; ``reports`` writes JSON, Markdown and JUnit. Never imports traces, git or optimize.
"""
