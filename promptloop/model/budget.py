"""The caps a client may not overshoot (``Budget``); what it has spent is ``request.Usage``."""

from __future__ import annotations

from dataclasses import dataclass

from promptloop.errors import (
    BudgetExceeded,
)
from promptloop.model.request import Request, Usage


@dataclass
class Budget:
    """Caps on paid calls, tokens and USD, never overshot.

    Each call reserves one call and its worst case (prompt characters / 3 + 8 per message, plus
    max_tokens; priced when the model's price is known) before it is made; the reservation is
    settled with the real usage when it returns, so concurrent calls cannot jointly overshoot.
    """

    calls: int | None = None
    tokens: int | None = None
    usd: float | None = None
    reserved: int = 0
    held_tokens: int = 0
    held_usd: float = 0.0

    def reserve(self, usage: Usage, tokens: int = 0, usd: float = 0.0) -> None:
        if self.calls is not None and self.reserved >= self.calls:
            raise BudgetExceeded(f"call budget of {self.calls} reached")
        if self.tokens is not None and usage.tokens + self.held_tokens + tokens > self.tokens:
            raise BudgetExceeded(f"token budget of {self.tokens} reached")
        if self.usd is not None and usage.cost_usd + self.held_usd + usd > self.usd:
            raise BudgetExceeded(f"USD budget of {self.usd} reached")
        self.reserved += 1
        self.held_tokens += tokens
        self.held_usd += usd

    def settle(self, tokens: int = 0, usd: float = 0.0, *, made: bool = True) -> None:
        """Release a reservation; ``made=False`` when the call never succeeded (it costs nothing)."""
        self.held_tokens -= tokens
        self.held_usd -= usd
        if not made:
            self.reserved -= 1


def worst_case_tokens(request: Request) -> int:
    chars = sum(len(str(m.get("content", ""))) for m in request.messages)
    return -(-chars // 3) + 8 * len(request.messages) + int(request.params.get("max_tokens") or 1024)
