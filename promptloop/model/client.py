"""The model layer: the one module that imports litellm.

Everything else receives a :class:`ModelClient` and calls ``await client.complete(request)``.
:class:`LM` adds bounded concurrency, retries with backoff and jitter (honouring
Retry-After), a per-call timeout, the persistent cache, budgets and error translation.

litellm resolves provider names, keys, parameters and costs. Its per-call path
costs ~10 ms of CPU a call on this class of machine (measured: 2.0x the ideal wall time at
concurrency 32), so OpenAI-compatible chat calls go over a pooled aiohttp session
instead (1.06x); every other provider goes through ``litellm.acompletion``. litellm is
imported lazily, on the first call that misses the cache, because importing it takes
4-6 s and a fully cached rerun should not pay that.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from promptloop.errors import (
    BadResponse,
    BudgetExceeded,
    MissingKeyError,
    ModelConfigError,
    ModelError,
    ModelTimeout,
    RateLimited,
    TransientModelError,
)
from promptloop.model.cache import CompletionCache, cache_key

LOCAL_PROVIDER = "local"
PARAM_NAMES = ("temperature", "top_p", "max_tokens", "seed", "stop", "response_format")
_FAST_PROVIDERS = {"openai"}


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


def key_env_hint(provider: str) -> str:
    return f"{provider.upper()}_API_KEY"


class LM:
    """The real model client. Use as ``async with LM(...) as lm`` or call ``aclose()``."""

    def __init__(self, *, cache_path: Path | None = None, concurrency: int = 8, timeout: float = 60.0,
                 retries: int = 4, backoff: float = 0.5, max_backoff: float = 30.0,
                 budget: Budget | None = None,
                 on_call: Callable[[Request, Completion], None] | None = None) -> None:
        self.cache = CompletionCache(cache_path) if cache_path else None
        self.concurrency = concurrency
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.budget = budget
        self.usage = Usage()
        self.on_call = on_call
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._session: Any = None
        self._routes: dict[tuple[str, str | None], _Route] = {}

    async def __aenter__(self) -> LM:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self.cache is not None:
            self.cache.close()
            self.cache = None

    async def complete(self, request: Request) -> Completion:
        key = request.key()
        if self.cache is not None:
            row = self.cache.get(key)
            if row is not None:
                self.usage.cached += 1
                return Completion.from_row(row)
        async with self._semaphore(request):
            tokens, usd = 0, 0.0
            if self.budget is not None:
                tokens = worst_case_tokens(request)
                if self.budget.usd is not None:
                    usd = self._route(request).cost(tokens, tokens) or 0.0
                self.budget.reserve(self.usage, tokens, usd)
            try:
                completion = await self._with_retries(request)
            except BaseException:
                if self.budget is not None:
                    self.budget.settle(tokens, usd, made=False)
                self.usage.errors += 1
                raise
            if self.budget is not None:
                self.budget.settle(tokens, usd)
        if self.cache is not None:
            self.cache.put(key, request.model, completion.to_row())
        self.usage.add(completion, request.purpose)
        if self.on_call is not None:
            self.on_call(request, completion)
        return completion

    def _semaphore(self, request: Request) -> asyncio.Semaphore:
        # The embedded model runs one call at a time anyway; queueing here rather than on its lock
        # keeps the recorded latency the model's own.
        key = "local" if request.model.startswith(LOCAL_PROVIDER + "/") else "remote"
        if key not in self._sems:
            self._sems[key] = asyncio.Semaphore(1 if key == "local" else self.concurrency)
        return self._sems[key]

    async def _with_retries(self, request: Request) -> Completion:
        route = self._route(request)
        attempt = 0
        while True:
            start = time.perf_counter()
            try:
                completion = await asyncio.wait_for(route.call(self, request), self.timeout)
                completion.latency_s = time.perf_counter() - start
                return completion
            except TimeoutError:
                error: ModelError = ModelTimeout(
                    f"{request.model}: no answer within {self.timeout:g} s; raise `timeout` in "
                    "promptloop.yaml if the model is slow", model=request.model)
            except TransientModelError as e:
                error = e
            if attempt >= self.retries:
                raise error
            delay = min(self.max_backoff, self.backoff * 2 ** attempt) * random.uniform(0.5, 1.5)
            if error.retry_after is not None:
                delay = max(error.retry_after, 0.0)
            attempt += 1
            await asyncio.sleep(delay)

    def _route(self, request: Request) -> _Route:
        k = (request.model, request.api_base)
        if k not in self._routes:
            self._routes[k] = _resolve(request.model, request.api_base)
        return self._routes[k]

    async def session(self) -> Any:
        if self._session is None:
            import aiohttp

            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.concurrency, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(total=None))
        return self._session


# ---------------------------------------------------------------- litellm
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


@dataclass
class _Route:
    """How calls to one model are made: provider, endpoint, key, price."""

    model: str
    provider: str
    bare_model: str
    api_base: str | None
    api_key: str | None
    fast: bool
    input_price: float | None
    output_price: float | None

    def cost(self, input_tokens: int, output_tokens: int) -> float | None:
        if self.input_price is None or self.output_price is None:
            return None
        return input_tokens * self.input_price + output_tokens * self.output_price

    async def call(self, lm: LM, request: Request) -> Completion:
        if self.fast:
            return await _call_openai_compatible(lm, self, request)
        return await _call_litellm(self, request)


def model_status(model: str, api_base: str | None = None) -> tuple[bool, str]:
    """Whether ``model`` can be called now, and if not, what to do about it."""
    try:
        _resolve(model, api_base)
    except ModelError as e:
        return False, str(e)
    if model.startswith(LOCAL_PROVIDER + "/"):
        from promptloop.model.embedded import weights_path

        return True, f"embedded weights at {weights_path()}"
    if api_base:
        return True, f"served at {api_base}"
    return True, "API key found in the environment"


def _resolve(model: str, api_base: str | None) -> _Route:
    if model.startswith(LOCAL_PROVIDER + "/"):
        from promptloop.model.embedded import check_available

        check_available(model)
        litellm = litellm_module()
        return _Route(model, LOCAL_PROVIDER, model.split("/", 1)[1], None, None, False, 0.0, 0.0)
    litellm = litellm_module()
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
                "model: set models.task to local/smollm2 in promptloop.yaml)", model=model)
    if provider in _FAST_PROVIDERS:
        api_key = api_key or os.environ.get("OPENAI_API_KEY")
    price = litellm.model_cost.get(model) or litellm.model_cost.get(bare) or {}
    return _Route(model=model, provider=provider, bare_model=bare, api_base=resolved_base or api_base,
                  api_key=api_key, fast=provider in _FAST_PROVIDERS and not os.environ.get("PROMPTLOOP_NO_FAST_PATH"),
                  input_price=price.get("input_cost_per_token"), output_price=price.get("output_cost_per_token"))


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


def _status_error(model: str, status: int, body: str, headers: Any) -> ModelError:
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


async def _call_openai_compatible(lm: LM, route: _Route, request: Request) -> Completion:
    import aiohttp

    base = (route.api_base or "https://api.openai.com/v1").rstrip("/")
    headers = {"Content-Type": "application/json"}
    if route.api_key:
        headers["Authorization"] = f"Bearer {route.api_key}"
    body = {"model": route.bare_model, "messages": request.messages, **request.params}
    session = await lm.session()
    try:
        async with session.post(f"{base}/chat/completions", json=body, headers=headers) as resp:
            text = await resp.text()
            if resp.status != 200:
                raise _status_error(request.model, resp.status, text, resp.headers)
    except aiohttp.ClientError as e:
        raise TransientModelError(f"{request.model}: cannot reach {base} ({e.__class__.__name__}: {e})",
                                  model=request.model) from None
    try:
        data = json.loads(text)
        content = data["choices"][0]["message"].get("content") or ""
        usage = data.get("usage") or {}
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise BadResponse(f"{request.model}: malformed response from {base}: {text[:120]!r}",
                          model=request.model) from None
    itok, otok = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    return Completion(text=content, model=request.model, input_tokens=itok, output_tokens=otok,
                      cost_usd=route.cost(itok, otok))


async def _call_litellm(route: _Route, request: Request) -> Completion:
    litellm = litellm_module()
    kwargs: dict[str, Any] = dict(request.params)
    if request.api_base:
        kwargs["api_base"] = request.api_base
    try:
        resp = await litellm.acompletion(model=request.model, messages=request.messages, num_retries=0,
                                         **kwargs)
    except ModelError:
        raise
    except Exception as e:
        raise _translate(request.model, e) from None
    try:
        content = resp.choices[0].message.content or ""
        usage = getattr(resp, "usage", None)
        itok = int(getattr(usage, "prompt_tokens", 0) or 0)
        otok = int(getattr(usage, "completion_tokens", 0) or 0)
    except (AttributeError, IndexError) as e:
        raise BadResponse(f"{request.model}: malformed response ({e})", model=request.model) from None
    return Completion(text=content, model=request.model, input_tokens=itok, output_tokens=otok,
                      cost_usd=route.cost(itok, otok))


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
        return _status_error(model, status, message, getattr(response, "headers", None))
    if isinstance(e, ModelError):
        return e
    return ModelConfigError(f"{model}: {name}: {message}", model=model)


def _register_local(litellm: Any) -> None:
    """Make ``local/<name>`` an ordinary litellm model, served in-process by llama.cpp."""

    class LocalHandler(litellm.CustomLLM):  # type: ignore[misc,name-defined]
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

