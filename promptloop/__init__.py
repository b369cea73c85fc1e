"""promptloop: prompt engineering as an engineering loop that lives in git.

The Python API, for application code (the command line is ``promptloop --help``)::

    import promptloop

    prompt = promptloop.load("trec")                    # or ref="v1.2", or bundle="prompts.json"
    reply = litellm.completion(**prompt.request(question="Who wrote Hamlet?"))
    trace_id = promptloop.record(prompt, {"question": "Who wrote Hamlet?"}, reply.choices[0].message.content)
    promptloop.feedback(trace_id, thumbs=False, correction="HUM")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Loaded on first use, so that `promptloop --help` and `import promptloop.testing` stay fast.
_EXPORTS = {
    "load": "promptloop.runtime.loading",
    "load_bundle": "promptloop.runtime.loading",
    "bundle": "promptloop.runtime.loading",
    "LoadedPrompt": "promptloop.runtime.loading",
    "MissingInputs": "promptloop.runtime.loading",
    "use_embedded_model": "promptloop.runtime.loading",
    "record": "promptloop.runtime.recording",
    "feedback": "promptloop.runtime.recording",
    "TraceSink": "promptloop.runtime.recording",
    "LiteLLMRecorder": "promptloop.runtime.hooks",
    "span_attributes": "promptloop.runtime.hooks",
}
__all__ = ["LiteLLMRecorder", "LoadedPrompt", "MissingInputs", "TraceSink", "__version__", "bundle", "feedback",
           "load", "load_bundle", "record", "span_attributes", "use_embedded_model"]

if TYPE_CHECKING:
    from promptloop.runtime.hooks import LiteLLMRecorder, span_attributes
    from promptloop.runtime.loading import LoadedPrompt, MissingInputs, bundle, load, load_bundle, use_embedded_model
    from promptloop.runtime.recording import TraceSink, feedback, record


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'promptloop' has no attribute {name!r}")
