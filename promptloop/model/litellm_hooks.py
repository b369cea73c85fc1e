"""A litellm callback object, for apps that call litellm themselves: each successful call becomes a plain
dict handed to ``on_call``. Kept in the model room because it is litellm's API it speaks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

log = logging.getLogger("promptloop")

Call = dict[str, Any]


def _plain(kwargs: dict[str, Any], response: Any, start: Any, end: Any) -> Call:
    params = kwargs.get("litellm_params") or {}
    metadata = dict(params.get("metadata") or kwargs.get("metadata") or {})
    usage = getattr(response, "usage", None)
    try:
        output = response.choices[0].message.content
    except (AttributeError, IndexError, TypeError):
        output = None
    latency = (end - start).total_seconds() * 1000 if isinstance(start, datetime) and isinstance(end, datetime) \
        else None
    return {"model": kwargs.get("model"), "messages": kwargs.get("messages") or [], "output": output,
            "metadata": metadata, "latency_ms": latency,
            "tokens": {"input": int(getattr(usage, "prompt_tokens", 0) or 0),
                       "output": int(getattr(usage, "completion_tokens", 0) or 0)},
            "cost_usd": kwargs.get("response_cost")}


def litellm_callback(on_call: Callable[[Call], None]) -> Any:
    """An instance of litellm's ``CustomLogger`` that passes each successful call to ``on_call``;
    put it in ``litellm.callbacks``. Errors in ``on_call`` are logged, never raised into litellm."""
    from litellm.integrations.custom_logger import CustomLogger

    class PromptloopCallback(CustomLogger):
        def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
            try:
                on_call(_plain(kwargs, response_obj, start_time, end_time))
            except Exception as e:  # an app's call must never fail because of its trace
                log.warning("promptloop: could not record a litellm call (%s)", e)

        async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any,
                                          end_time: Any) -> None:
            self.log_success_event(kwargs, response_obj, start_time, end_time)

    return PromptloopCallback()
