"""The fast path: OpenAI and every OpenAI-compatible server (a gateway, a proxy, vLLM, llama.cpp's server,
Ollama) over one pooled aiohttp session, without importing litellm (its per-call path costs ~10 ms of
CPU and its import seconds). Endpoints resolve as the OpenAI SDKs do: config ``api_base``, then
``OPENAI_BASE_URL``, then ``OPENAI_API_BASE``, then api.openai.com."""

from __future__ import annotations

import os

from promptloop import codec
from promptloop.errors import BadResponse, MissingKeyError, TransientModelError
from promptloop.model.request import Completion, Request, answer_text, wire_tool_calls
from promptloop.model.routes import DEFAULT_BASES, Route, SessionSource, env_base, status_error


class OpenAICompatible:
    """``openai/<model>``: resolved at once (no import), priced from the price map on first use."""

    name = "openai-compatible"
    serial = False
    slow_resolve = False

    def claims(self, model: str) -> bool:
        provider, _, bare = model.partition("/")
        return provider == "openai" and bool(bare)

    def resolve(self, model: str, api_base: str | None) -> Route:
        provider, _, bare = model.partition("/")
        base = api_base or env_base(model)
        key = os.environ.get("OPENAI_API_KEY") or None
        if not key and not base:
            raise MissingKeyError(f"{model} needs OPENAI_API_KEY: export OPENAI_API_KEY=... (or use the embedded "
                                  "model: set models.default to local/smollm2 in promptloop.yaml)", model=model)
        return Route(model=model, provider=provider, bare_model=bare, api_base=base or DEFAULT_BASES[provider],
                     api_key=key, transport=self, priced=False)

    async def call(self, lm: SessionSource, route: Route, request: Request) -> Completion:
        return await call_openai_compatible(lm, route, request)

    def endpoint(self, route: Route) -> str:
        return route.api_base or DEFAULT_BASES["openai"]


async def call_openai_compatible(lm: SessionSource, route: Route, request: Request) -> Completion:
    import aiohttp

    base = (route.api_base or "https://api.openai.com/v1").rstrip("/")
    headers = {"Content-Type": "application/json"}  # the body is sent as orjson wrote it
    if route.api_key:
        headers["Authorization"] = f"Bearer {route.api_key}"
    body = {"model": route.bare_model, "messages": request.messages, **request.params}
    session = await lm.session()
    try:
        async with session.post(f"{base}/chat/completions", data=codec.dump_bytes(body), headers=headers) as resp:
            text = await resp.text()
            if resp.status != 200:
                raise status_error(request.model, resp.status, text, resp.headers)
    except aiohttp.ClientError as e:
        raise TransientModelError(f"{request.model}: cannot reach {base} ({e.__class__.__name__}: {e})",
                                  model=request.model) from None
    try:
        data = codec.loads(text)
        message = data["choices"][0]["message"]
        calls = wire_tool_calls(message)
        content = answer_text(request.model, message.get("content"), calls, message.get("refusal"))
        usage = data.get("usage") or {}
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise BadResponse(f"{request.model}: malformed response from {base}: {text[:120]!r}",
                          model=request.model) from None
    itok, otok = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    return Completion(text=content, model=request.model, input_tokens=itok, output_tokens=otok,
                      cost_usd=route.cost(itok, otok), tool_calls=calls)
