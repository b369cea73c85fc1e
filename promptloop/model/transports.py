"""The transports, in the order they are asked whose a model is, and what resolving a model and checking
it take. To add a route (another in-process engine, another fast transport), write a class with the
``Transport`` protocol's members (``model/routes.py``) and put an instance in ``TRANSPORTS``."""

from __future__ import annotations

import os

from promptloop.errors import ModelConfigError, ModelError
from promptloop.masking import redact_text
from promptloop.model.embedded import check_available, engine, is_embedded, loaded
from promptloop.model.fast import OpenAICompatible
from promptloop.model.request import Completion, Request, tool_call
from promptloop.model.routes import LiteLLM, Route, SessionSource, Transport, env_base, reachable


class Embedded:
    """``local/<name>``: the embedded model, called in-process in a thread (one call at a time). The same
    engine also serves litellm's ``local/`` provider for applications (``promptloop.use_embedded_model``)."""

    name = "embedded"
    serial = True
    slow_resolve = False

    def claims(self, model: str) -> bool:
        return is_embedded(model)

    def resolve(self, model: str, api_base: str | None) -> Route:
        check_available(model)
        return Route(model, "local", model.split("/", 1)[1], None, None, transport=self, input_price=0.0,
                     output_price=0.0)

    async def call(self, lm: SessionSource, route: Route, request: Request) -> Completion:
        import asyncio

        if not loaded(route.bare_model):
            lm.notify(f"loading the embedded model {request.model} (the first call in this process; 15 s to 2 min)")
        try:
            out = await asyncio.to_thread(engine(route.bare_model).chat, request.messages, dict(request.params))
        except ModelError:
            raise
        except Exception as e:  # llama.cpp raises bare ValueErrors, e.g. on a too-long prompt
            raise ModelConfigError(f"{request.model}: {e}", model=request.model) from None
        return Completion(text=out["text"], model=request.model, input_tokens=out["input_tokens"],
                          output_tokens=out["output_tokens"], cost_usd=0.0,
                          tool_calls=[tool_call(c["name"], c["arguments"], c["id"]) for c in out.get("tool_calls", [])],
                          label_scores=out.get("label_scores"))

    def endpoint(self, route: Route) -> str:
        return "in-process (llama.cpp)"


EMBEDDED = Embedded()
OPENAI_COMPATIBLE = OpenAICompatible()
# The first transport that claims a model name serves it; litellm claims every name, so it comes last.
TRANSPORTS: tuple[Transport, ...] = (EMBEDDED, OPENAI_COMPATIBLE, LiteLLM(handoff=OPENAI_COMPATIBLE))
# PROMPTLOOP_NO_FAST_PATH=1: every hosted model through litellm.acompletion.
WITHOUT_FAST_PATH: tuple[Transport, ...] = (EMBEDDED, LiteLLM())


def default_transports() -> tuple[Transport, ...]:
    """The transports a client uses unless given others: the environment is read here, once per client."""
    return WITHOUT_FAST_PATH if os.environ.get("PROMPTLOOP_NO_FAST_PATH") else TRANSPORTS


def transport_for(model: str, transports: tuple[Transport, ...] | None = None) -> Transport:
    return next(t for t in transports or default_transports() if t.claims(model))


def resolve(model: str, api_base: str | None, transports: tuple[Transport, ...] | None = None) -> Route:
    """Provider, endpoint, key and price of ``model``; raises what is missing (a key, the weights)."""
    return transport_for(model, transports).resolve(model, api_base)


def model_status(model: str, api_base: str | None = None) -> tuple[bool, str]:
    """Whether ``model`` can be called now, and if not, what to do about it. An explicit endpoint
    (config or environment) is probed with a TCP connection; a provider's public endpoint is not."""
    ok, detail = _model_status(model, api_base)
    return ok, redact_text(detail)  # an endpoint may carry user:password@


def _model_status(model: str, api_base: str | None) -> tuple[bool, str]:
    try:
        route = resolve(model, api_base)
    except ModelError as e:
        return False, str(e)
    if route.transport is EMBEDDED:
        from promptloop.model.embedded import weights_path

        return True, f"embedded weights at {weights_path()}"
    if api_base or env_base(model):
        problem = reachable(route.api_base or "")
        if problem:
            return False, f"{problem}; start the server or fix api_base / OPENAI_BASE_URL"
        via = "" if route.transport is OPENAI_COMPATIBLE else " (through litellm)"
        return True, f"endpoint {route.endpoint} accepts connections" + via
    return True, f"endpoint {route.endpoint}; API key found in the environment (--check makes one tiny call)"
