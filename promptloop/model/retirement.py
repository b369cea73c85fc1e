"""When a provider retires a model: the ``deprecation_date`` of litellm's price map, and the rule that turns it
into a warning (within ``WARN_DAYS``) or an error (past) naming the date and what to do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from promptloop.model.routes import price_entry

WARN_DAYS = 90


@dataclass(frozen=True)
class Retirement:
    model: str
    date: date
    past: bool  # the date has passed: calls may already fail

    def message(self) -> str:
        when = f"was retired on {self.date}" if self.past else f"is retired on {self.date}"
        return (f"{self.model} {when}; run `promptloop migrate --to NEW_MODEL` to see whether your prompts survive "
                "the switch")


def retirement(model: str, today: date, listed: str | None) -> Retirement | None:
    """The rule: a retirement date (``listed``, ISO) past or within ``WARN_DAYS`` of ``today``, else None."""
    try:
        when = date.fromisoformat(listed[:10]) if listed else None
    except ValueError:
        return None
    if when is None or (when - today).days > WARN_DAYS:
        return None
    return Retirement(model, when, when <= today)


def retirement_of(model: str, today: date | None = None) -> Retirement | None:
    """:func:`retirement` with the date the price map lists for ``model``."""
    return retirement(model, today or date.today(), deprecation_date(model))


def deprecation_date(model: str) -> str | None:
    """The price map's ``deprecation_date`` of ``model`` (``provider/name`` or the bare name)."""
    bare = model.split("/", 1)[1] if "/" in model else model
    value = price_entry(model, bare).get("deprecation_date")
    return str(value) if value else None
