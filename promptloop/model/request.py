"""What crosses the model seam: a ``Request`` in, a ``Completion`` out, and the ``ModelClient`` protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from promptloop.model.cache import cache_key


@dataclass(frozen=True)
class Request:
    """One chat completion to make. ``sample`` distinguishes repeats of the same call."""

    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)
    api_base: str | None = None
    sample: int = 0
    purpose: str = "task"

    def key(self) -> str:
        return cache_key({"model": self.model, "api_base": self.api_base, "messages": self.messages,
                          "params": self.params, "sample": self.sample})


@dataclass
class Completion:
    text: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    latency_s: float = 0.0
    cached: bool = False

    def to_row(self) -> dict[str, Any]:
        return {"text": self.text, "model": self.model, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "cost_usd": self.cost_usd, "latency_s": self.latency_s}

    @classmethod
    def from_row(cls, row: dict[str, Any], cached: bool = True) -> Completion:
        return cls(text=row["text"], model=row["model"], input_tokens=row.get("input_tokens", 0),
                   output_tokens=row.get("output_tokens", 0), cost_usd=row.get("cost_usd"),
                   latency_s=row.get("latency_s", 0.0), cached=cached)


class ModelClient(Protocol):
    async def complete(self, request: Request) -> Completion: ...
