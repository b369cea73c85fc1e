"""The model client: the one object the rest of promptloop calls models through.

Everything else receives a :class:`ModelClient` and calls ``await client.complete(request)``.
:class:`LM` adds bounded concurrency, retries with backoff and jitter (honouring
Retry-After), a per-call timeout, the persistent cache, budgets and error translation.

How a model is reached is :mod:`promptloop.model.routes`' job: OpenAI-compatible chat goes over a
pooled aiohttp session without ever importing litellm (its per-call path costs ~10 ms of CPU and its
import several seconds); every other provider goes through ``litellm.acompletion``, imported in a thread
on the first call that misses the cache.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from promptloop import codec
from promptloop.errors import (
    Interrupted,
    ModelError,
    ModelTimeout,
    TransientModelError,
)
from promptloop.model.budget import Budget, worst_case_tokens
from promptloop.model.cache import CompletionCache
from promptloop.model.request import Completion, ModelClient, Request, Usage
from promptloop.model.routes import Route, Transport, env_base
from promptloop.model.transports import default_transports, model_status, resolve, transport_for

MAX_RETRY_AFTER_S = 60.0  # a Retry-After beyond this ends the call instead of stalling the run

__all__ = ["LM", "Budget", "Completion", "ModelClient", "Request", "Usage", "model_status", "open_client"]


class ClientSettings(Protocol):
    """The settings a client is opened with (``repo.config.Config`` has them)."""

    @property
    def cache_dir(self) -> Path: ...
    @property
    def concurrency(self) -> int: ...
    @property
    def timeout(self) -> float: ...
    @property
    def retries(self) -> int: ...


def open_client(settings: ClientSettings, *, no_cache: bool = False, budget: Budget | None = None,
                concurrency: int | None = None, on_status: Callable[[str], None] | None = None) -> LM:
    """The one way a use case gets its model client: opened once, with its budget and concurrency."""
    cache = None if no_cache else settings.cache_dir / "cache.sqlite"
    return LM(cache_path=cache, concurrency=concurrency or settings.concurrency, timeout=settings.timeout,
              retries=settings.retries, budget=budget, on_status=on_status)



class LM:
    """The real model client. Use as ``async with LM(...) as lm`` or call ``aclose()``."""

    def __init__(self, *, cache_path: Path | None = None, concurrency: int = 8, timeout: float = 60.0,
                 retries: int = 4, backoff: float = 0.5, max_backoff: float = 30.0,
                 budget: Budget | None = None,
                 on_call: Callable[[Request, Completion], None] | None = None,
                 transports: tuple[Transport, ...] | None = None,
                 on_status: Callable[[str], None] | None = None) -> None:
        self.cache = CompletionCache(cache_path) if cache_path else None
        self.concurrency = concurrency
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.budget = budget
        self.usage = Usage()
        self.on_call = on_call
        self.transports = transports or default_transports()
        self._transports: dict[str, Transport] = {}  # by model name: which transport serves it
        self.on_status = on_status  # long waits, said as they start (the CLI prints them; the core never does)
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._session: Any = None
        self._routes: dict[tuple[str, str | None], Route] = {}
        self._resolving: dict[tuple[str, str | None], asyncio.Future[Route]] = {}
        self._stopping = False

    def stop_new(self) -> None:
        """Send no new request from now on (Ctrl-C): calls already in flight still finish and are cached."""
        self._stopping = True

    def _check_stopping(self) -> None:
        if self._stopping:
            raise Interrupted("interrupted before this call was sent")

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
        if request.api_base is None and (base := env_base(request.model)):
            # Answers from the endpoint named in the environment are cached apart from the provider's own.
            request = dataclasses.replace(request, api_base=base)
        key = request.key() if self.cache is not None else ""  # a hash of the whole request: only for the cache
        if self.cache is not None:
            row = self.cache.get(key)
            if row is not None:
                self.usage.cached += 1
                return Completion.from_row(row)
        async with self._semaphore(request):
            self._check_stopping()
            tokens, usd = 0, 0.0
            if self.budget is not None:
                tokens = worst_case_tokens(request)
                if self.budget.usd is not None:
                    usd = (await self._route(request)).cost(tokens, tokens) or 0.0
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
            self.cache.put(key, request.model, completion.to_row())  # key was computed: the cache exists
        self.usage.add(completion, request.purpose)
        if self.on_call is not None:
            self.on_call(request, completion)
        return completion

    def _semaphore(self, request: Request) -> asyncio.Semaphore:
        # The embedded model runs one call at a time anyway; queueing here rather than on its lock
        # keeps the recorded latency the model's own.
        transport = self._transport(request.model)
        key = transport.name if transport.serial else "concurrent"
        if key not in self._sems:
            self._sems[key] = asyncio.Semaphore(1 if transport.serial else self.concurrency)
        return self._sems[key]

    async def _with_retries(self, request: Request) -> Completion:
        route = await self._route(request)
        attempt = 0
        while True:
            if attempt:
                self._check_stopping()
            start = time.perf_counter()
            try:
                completion = await asyncio.wait_for(route.call(self, request), self.timeout)
                completion.latency_s = time.perf_counter() - start
                # Whatever the route: an answer holding a lone surrogate (a "\ud800" escape without its
                # pair) could be neither cached nor written to a report, both UTF-8.
                completion.text = codec.whole_characters(completion.text)
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
                if error.retry_after > MAX_RETRY_AFTER_S:
                    raise type(error)(f"{error}; the provider asked to wait {error.retry_after:g} s, longer than "
                                      f"promptloop waits ({MAX_RETRY_AFTER_S:g} s): try again later",
                                      model=error.model, status=error.status) from None
                delay = max(error.retry_after, 0.0)
            attempt += 1
            await asyncio.sleep(delay)

    async def _route(self, request: Request) -> Route:
        """The route for a request's model, resolved once. A transport whose resolving is slow (litellm's
        import) resolves in a thread, so the event loop keeps serving cached cases meanwhile."""
        k = (request.model, request.api_base)
        if k not in self._routes:
            if not self._transport(request.model).slow_resolve:
                self._routes[k] = resolve(request.model, request.api_base, self.transports)
            else:
                if k not in self._resolving:
                    self._resolving[k] = asyncio.ensure_future(
                        asyncio.to_thread(resolve, request.model, request.api_base, self.transports))
                self._routes[k] = await self._resolving[k]
        return self._routes[k]

    def _transport(self, model: str) -> Transport:
        found = self._transports.get(model)
        if found is None:
            found = self._transports[model] = transport_for(model, self.transports)
        return found

    def notify(self, message: str) -> None:
        if self.on_status is not None:
            self.on_status(message)

    async def session(self) -> Any:
        if self._session is None:
            import aiohttp

            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.concurrency, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(total=None))
        return self._session


async def check_model(model: str, api_base: str | None = None, *, timeout: float = 30.0) -> tuple[bool, str]:
    """Make one tiny real call (1 output token, no cache, no retry): ready means it answered."""
    ok, detail = model_status(model, api_base)
    if not ok:
        return ok, detail
    async with LM(timeout=timeout, retries=0) as lm:
        try:
            c = await lm.complete(Request(model, [{"role": "user", "content": "Say OK."}],
                                          {"max_tokens": 1, "temperature": 0}, api_base=api_base, purpose="check"))
        except ModelError as e:
            return False, f"the test call failed: {e}"
    return True, f"answered a test call in {c.latency_s:.2f} s; " + detail
