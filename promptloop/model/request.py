"""What crosses the model seam: a ``Request`` in, a ``Completion`` out, the ``Usage`` so far, and the
``ModelClient`` protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from promptloop import codec
from promptloop.errors import BadResponse
from promptloop.model import embedded
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
        payload = {"model": self.model, "api_base": self.api_base, "messages": self.messages,
                   "params": self.params, "sample": self.sample}
        if embedded.is_embedded(self.model):
            # The embedded engine's answers change with its decoding: answers cached before are not served.
            payload["engine"] = embedded.ENGINE_REVISION
        return cache_key(payload)


def tool_call(name: str, arguments: Any, call_id: str | None = None) -> dict[str, Any]:
    """A tool call as promptloop keeps it: ``arguments`` parsed from JSON when it parses, else the raw text
    (an invalid call is kept as it came, so a check can say why it is invalid)."""
    if isinstance(arguments, str):
        try:
            arguments = codec.loads(arguments) if arguments.strip() else {}
        except ValueError:
            pass
    return {"id": call_id, "name": name, "arguments": arguments}


def wire_tool_calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool calls of an OpenAI-shaped assistant message (``message.tool_calls[].function``)."""
    out = []
    for c in message.get("tool_calls") or []:
        fn = c.get("function") or {}
        out.append(tool_call(str(fn.get("name") or ""), fn.get("arguments") or "", c.get("id")))
    return out


def answer_text(model: str, content: Any, calls: list[dict[str, Any]], refusal: Any = None) -> str:
    """The text of an answer. ``content: null`` without a tool call or a refusal is no answer at all: a bad
    response (an error, retried), never an empty answer scored as a failure."""
    if content is None and not calls:
        if isinstance(refusal, str) and refusal:
            return refusal
        raise BadResponse(f"{model}: the answer holds neither text nor a tool call (content: null)", model=model)
    return content if isinstance(content, str) else str(content or "")


@dataclass
class Completion:
    """A model's answer: text, tool calls (``tool_call`` records), or both."""

    text: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    latency_s: float = 0.0
    cached: bool = False
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    label_scores: dict[str, float] | None = None  # a closed set's choices and their log-probabilities (embedded)

    def to_row(self) -> dict[str, Any]:
        row = {"text": self.text, "model": self.model, "input_tokens": self.input_tokens,
               "output_tokens": self.output_tokens, "cost_usd": self.cost_usd, "latency_s": self.latency_s}
        if self.tool_calls:  # rows without the key read back as no calls (rows cached before tools existed)
            row["tool_calls"] = self.tool_calls
        if self.label_scores is not None:
            row["label_scores"] = self.label_scores
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any], cached: bool = True) -> Completion:
        return cls(text=row["text"], model=row["model"], input_tokens=row.get("input_tokens", 0),
                   output_tokens=row.get("output_tokens", 0), cost_usd=row.get("cost_usd"),
                   latency_s=row.get("latency_s", 0.0), cached=cached, tool_calls=list(row.get("tool_calls") or []),
                   label_scores=row.get("label_scores"))


@dataclass
class Usage:
    """What a client has spent: paid calls only (cache hits cost nothing)."""

    calls: int = 0
    cached: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    errors: int = 0
    by_purpose: dict[str, int] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, c: Completion, purpose: str) -> None:
        self.calls += 1
        self.input_tokens += c.input_tokens
        self.output_tokens += c.output_tokens
        self.cost_usd += c.cost_usd or 0.0
        self.by_purpose[purpose] = self.by_purpose.get(purpose, 0) + 1


class ModelClient(Protocol):
    """What everything that calls a model receives: opened once, with its budget, by its caller."""

    usage: Usage  # every call made (or answered from the cache) through this client so far

    async def complete(self, request: Request) -> Completion: ...
