"""What a model route is (``Route``, ``Transport``), the litellm transport, prices, and provider errors
translated into promptloop's error tree. The transports and the order they are asked in: ``transports.py``.

With :mod:`promptloop.model.litellm_hooks` (apps' callbacks) this is the only module that imports litellm;
:mod:`promptloop.model.embedded` is the only one that imports llama.cpp.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from promptloop import codec
from promptloop.endpoint import endpoint_problem
from promptloop.errors import (
    BadResponse,
    MissingKeyError,
    ModelConfigError,
    ModelError,
    ModelTimeout,
    RateLimited,
    TransientModelError,
    UsageError,
)
from promptloop.model.request import Completion, Request, answer_text, tool_call

LOCAL_PROVIDER = "local"  # local/<name>: the embedded model (model/embedded.py)


class SessionSource(Protocol):
    """What a transport may ask of the client calling it: the pooled HTTP session, and to tell people about a
    long wait (the embedded model loading)."""

    async def session(self) -> Any: ...

    def notify(self, message: str) -> None: ...


_litellm: Any = None


def litellm_module() -> Any:
    """Import litellm once, configured never to reach the network on its own."""
    global _litellm
    if _litellm is None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("LITELLM_TELEMETRY", "False")
        import litellm

        litellm.telemetry = False
        litellm.suppress_debug_info = True
        litellm.num_retries = 0
        litellm.drop_params = True
        _register_local(litellm)
        _litellm = litellm
    return _litellm


class Transport(Protocol):
    """One way of reaching models (see ``model/transports.py`` for the list, in the order they are asked).

    ``claims`` is cheap and says whether a model name is this transport's; ``resolve`` finds its provider,
    endpoint, key and price (or raises what is missing); ``call`` makes one chat completion."""

    name: str
    serial: bool  # calls run one at a time (an in-process engine): the client queues them, not the engine
    slow_resolve: bool  # resolving imports something slow: the client does it in a thread

    def claims(self, model: str) -> bool: ...
    def resolve(self, model: str, api_base: str | None) -> Route: ...
    async def call(self, lm: SessionSource, route: Route, request: Request) -> Completion: ...
    def endpoint(self, route: Route) -> str: ...


@dataclass
class Route:
    """How calls to one model are made: provider, endpoint, key, price, and the transport that makes them."""

    model: str
    provider: str
    bare_model: str
    api_base: str | None
    api_key: str | None
    transport: Transport
    input_price: float | None = None
    output_price: float | None = None
    priced: bool = True  # False: look the price up in the price map on first use

    def cost(self, input_tokens: int, output_tokens: int) -> float | None:
        if not self.priced:
            self.input_price, self.output_price = price_of(self.model, self.bare_model)
            self.priced = True
        if self.input_price is None or self.output_price is None:
            return None
        return input_tokens * self.input_price + output_tokens * self.output_price

    async def call(self, lm: SessionSource, request: Request) -> Completion:
        return await self.transport.call(lm, self, request)

    @property
    def endpoint(self) -> str:
        """Where calls on this route go, for people to read."""
        return self.transport.endpoint(self)


def key_env_hint(provider: str) -> str:
    return f"{provider.upper()}_API_KEY"


def env_base(model: str) -> str | None:
    """The endpoint the OpenAI SDKs would use from the environment: ``OPENAI_BASE_URL``, then
    ``OPENAI_API_BASE``; only for OpenAI models (``openai/...`` or a bare name). A config ``api_base`` wins."""
    provider = model.split("/", 1)[0] if "/" in model else "openai"
    if provider != "openai":
        return None
    for var in ("OPENAI_BASE_URL", "OPENAI_API_BASE"):
        base = os.environ.get(var)
        if base:
            why = endpoint_problem(base)
            if why:  # never a guess at what was meant: the prompts and the key would go there
                raise UsageError(f"{var}: {why}")
            return base
    return None


DEFAULT_BASES = {"openai": "https://api.openai.com/v1"}


def reachable(base: str, timeout: float = 2.0) -> str | None:
    """None if something accepts connections at ``base``; else why not. Costs no model call."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    host = parts.hostname
    if not host:
        return f"'{base}' is not a URL; write it as http(s)://host:port/v1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as e:
        return f"nothing answers at {base} ({e.strerror or e.__class__.__name__})"


@functools.cache
def _price_map() -> dict[str, Any]:
    """litellm's price map, read as the JSON file it ships, without importing litellm (4-6 s)."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.origin:
        return {}
    path = Path(spec.origin).parent / "model_prices_and_context_window_backup.json"
    try:
        data = codec.loads(path.read_bytes())  # 3 MB: orjson reads it in 11 ms where json took 18
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def price_entry(model: str, bare: str) -> dict[str, Any]:
    """The price map's entry for a model (prices, context window, deprecation date), or {}."""
    prices = _price_map()
    entry = prices.get(model) or prices.get(bare) or {}
    return entry if isinstance(entry, dict) else {}


def price_of(model: str, bare: str) -> tuple[float | None, float | None]:
    """USD per input and output token, if the price map knows the model."""
    entry = price_entry(model, bare)
    return entry.get("input_cost_per_token"), entry.get("output_cost_per_token")


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def status_error(model: str, status: int, body: str, headers: Any) -> ModelError:
    detail = body.strip().replace("\n", " ")[:200]
    if status == 429:
        return RateLimited(f"{model}: rate limited (429) {detail}", model=model, status=status,
                           retry_after=_retry_after(headers))
    if status in (408, 409) or status >= 500:
        return TransientModelError(f"{model}: server error {status} {detail}", model=model, status=status,
                                   retry_after=_retry_after(headers))
    if status in (401, 403):
        return MissingKeyError(f"{model}: the provider refused the API key ({status}); check the key "
                               "in your environment", model=model, status=status)
    return ModelConfigError(f"{model}: request rejected ({status}) {detail}", model=model, status=status)


class LiteLLM:
    """Every provider litellm knows, through ``litellm.acompletion`` (imported on first use, in a thread).
    A model litellm resolves to OpenAI is handed to ``handoff`` (the fast path), when there is one."""

    name = "litellm"
    serial = False
    slow_resolve = True

    def __init__(self, handoff: Transport | None = None) -> None:
        self.handoff = handoff

    def claims(self, model: str) -> bool:
        return True

    def resolve(self, model: str, api_base: str | None) -> Route:
        litellm = litellm_module()
        api_base = api_base or env_base(model)
        try:
            bare, provider, dynamic_key, resolved_base = litellm.get_llm_provider(model, api_base=api_base)
        except Exception as e:
            raise ModelConfigError(
                f"unknown model '{model}': {str(e).splitlines()[0][:200]}; write it as provider/model, "
                "e.g. openai/gpt-4o-mini (see litellm's provider list)", model=model) from None
        api_key = dynamic_key
        if not api_base:
            env = litellm.validate_environment(model=model)
            if not env.get("keys_in_environment", False):
                missing = env.get("missing_keys") or [key_env_hint(provider)]
                raise MissingKeyError(
                    f"{model} needs {', '.join(missing)}: export {missing[0]}=... (or use the embedded "
                    "model: set models.default to local/smollm2 in promptloop.yaml)", model=model)
        if provider == "openai":
            api_key = api_key or os.environ.get("OPENAI_API_KEY")
        price = litellm.model_cost.get(model) or litellm.model_cost.get(bare) or {}
        transport = self.handoff if provider == "openai" and self.handoff is not None else self
        return Route(model=model, provider=provider, bare_model=bare, api_base=api_base or resolved_base,
                     api_key=api_key, transport=transport, input_price=price.get("input_cost_per_token"),
                     output_price=price.get("output_cost_per_token"))

    async def call(self, lm: SessionSource, route: Route, request: Request) -> Completion:
        return await _call_litellm(route, request)

    def endpoint(self, route: Route) -> str:
        return route.api_base or DEFAULT_BASES.get(route.provider, f"{route.provider}'s default endpoint")


async def _call_litellm(route: Route, request: Request) -> Completion:
    litellm = litellm_module()
    kwargs: dict[str, Any] = dict(request.params)
    if route.api_base:
        kwargs["api_base"] = route.api_base
    fmt = kwargs.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        try:
            supported = bool(litellm.supports_response_schema(model=route.bare_model,
                                                              custom_llm_provider=route.provider))
        except Exception:  # an unknown model: litellm cannot tell, so send the plain prompt
            supported = False
        if not supported:
            kwargs.pop("response_format")  # the plain prompt; a constrained reply is read back either way
    try:
        resp = await litellm.acompletion(model=request.model, messages=request.messages, num_retries=0,
                                         **kwargs)
    except ModelError:
        raise
    except Exception as e:
        raise _translate(request.model, e) from None
    try:
        message = resp.choices[0].message
        calls = [tool_call(str(getattr(c.function, "name", "") or ""), getattr(c.function, "arguments", "") or "",
                           getattr(c, "id", None)) for c in (getattr(message, "tool_calls", None) or [])]
        content = answer_text(request.model, message.content, calls, getattr(message, "refusal", None))
        usage = getattr(resp, "usage", None)
        itok = int(getattr(usage, "prompt_tokens", 0) or 0)
        otok = int(getattr(usage, "completion_tokens", 0) or 0)
    except (AttributeError, IndexError) as e:
        raise BadResponse(f"{request.model}: malformed response ({e})", model=request.model) from None
    return Completion(text=content, model=request.model, input_tokens=itok, output_tokens=otok,
                      cost_usd=route.cost(itok, otok), tool_calls=calls)


def _translate(model: str, e: Exception) -> ModelError:
    status = getattr(e, "status_code", None)
    name = e.__class__.__name__
    message = str(e).splitlines()[0][:240] if str(e) else name
    if name == "AuthenticationError":
        return MissingKeyError(f"{model}: the provider refused the API key: {message}", model=model, status=status)
    if name in ("Timeout", "APITimeoutError"):
        return ModelTimeout(f"{model}: timed out: {message}", model=model)
    if name in ("APIConnectionError", "ServiceUnavailableError", "InternalServerError"):
        return TransientModelError(f"{model}: {message}", model=model, status=status)
    if isinstance(status, int):
        response = getattr(e, "response", None)
        return status_error(model, status, message, getattr(response, "headers", None))
    if isinstance(e, ModelError):
        return e
    return ModelConfigError(f"{model}: {name}: {message}", model=model)


def _register_local(litellm: Any) -> None:
    """Make ``local/<name>`` an ordinary litellm model, served in-process by llama.cpp."""

    class LocalHandler(litellm.CustomLLM):
        def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
            return self._run(model, messages, kwargs)

        async def acompletion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(self._run, model, messages, kwargs)

        def _run(self, model: str, messages: list[Any], kwargs: dict[str, Any]) -> Any:
            from promptloop.model.embedded import engine

            params = dict(kwargs.get("optional_params") or {})
            try:
                out = engine(model).chat(messages, params)
            except ModelError:
                raise
            except Exception as e:  # llama.cpp raises bare ValueErrors, e.g. on a too-long prompt
                raise ModelConfigError(f"local/{model}: {e}", model=f"local/{model}") from None
            response = kwargs["model_response"]
            response.choices[0].message.content = out["text"]
            response.choices[0].finish_reason = out["finish_reason"]
            response.model = f"local/{model}"
            response.usage = litellm.Usage(prompt_tokens=out["input_tokens"],
                                           completion_tokens=out["output_tokens"],
                                           total_tokens=out["input_tokens"] + out["output_tokens"])
            return response

    handler = LocalHandler()
    litellm.custom_provider_map = [m for m in litellm.custom_provider_map if m.get("provider") != LOCAL_PROVIDER]
    litellm.custom_provider_map.append({"provider": LOCAL_PROVIDER, "custom_handler": handler})
    try:
        from litellm.utils import custom_llm_setup

        custom_llm_setup()
    except ImportError:  # pragma: no cover - older litellm registers lazily
        pass
