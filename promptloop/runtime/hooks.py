"""Hooks for apps that already trace: a litellm recorder and OpenTelemetry span attributes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from promptloop.masking import redact
from promptloop.runtime.loading import LoadedPrompt
from promptloop.runtime.recording import TraceSink, sink_for

PROMPT_ATTR = "promptloop.prompt"
VERSION_ATTR = "promptloop.prompt_version"


def LiteLLMRecorder(sink: str | Path | TraceSink | None = None) -> Any:
    """``litellm.callbacks = [promptloop.LiteLLMRecorder("traces.jsonl")]``: every call made with
    ``**prompt.request(...)`` (which names the prompt and version in litellm's ``metadata``) is recorded;
    other calls are recorded too, without a prompt, so import can still match them by template."""
    from promptloop.model.litellm_hooks import litellm_callback
    from promptloop.runtime.recording import _now

    target = sink_for(sink)

    def on_call(call: dict[str, Any]) -> None:
        import uuid

        meta = call["metadata"]
        entry: dict[str, Any] = {"promptloop_trace": 1, "id": uuid.uuid4().hex, "time": _now(),
                                 "model": call["model"], "messages": call["messages"], "output": call["output"],
                                 "tokens": call["tokens"]}
        if meta.get("promptloop_prompt"):
            entry.update(prompt=meta["promptloop_prompt"], prompt_version=meta.get("promptloop_version"),
                         inputs=meta.get("promptloop_inputs"))
        for key in ("latency_ms", "cost_usd"):
            if call.get(key) is not None:
                entry[key] = call[key]
        target.write(redact({k: v for k, v in entry.items() if v is not None}))

    return litellm_callback(on_call)


def span_attributes(prompt: LoadedPrompt) -> dict[str, str]:
    """Attributes to put on the span of a call made with ``prompt`` (``span.set_attributes(...)``);
    ``promptloop import`` reads them from OTLP and OpenInference spans for an exact match."""
    return {PROMPT_ATTR: prompt.name, VERSION_ATTR: prompt.version}
