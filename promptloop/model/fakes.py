"""Fakes for tests: a scripted model client and a local OpenAI-compatible server.

``FakeModel`` stands in for :class:`promptloop.model.client.LM` (like dspy's DummyLM):
answers come from substring rules or a queue, and every request is recorded.
``FakeServer`` serves ``/v1/chat/completions`` on 127.0.0.1 with optional latency and
faults (429 with Retry-After, 500, hangs, malformed JSON), for tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from promptloop.model.client import Budget, Completion, Request, Usage
from promptloop.model.request import tool_call

# An answer a fake gives: text, or {"content": text or None, "tool_calls": [{"name", "arguments", "id"?}]} to
# answer with tool calls (arguments as an object, or as a string to send exactly that, e.g. broken JSON), or
# {"label_scores": {choice: log-probability}} to answer a closed set as the embedded model does: the likeliest
# choice after the request's label_bias, the scores returned with it.
Answer = str | dict[str, Any]


def _scored(answer: Answer, request: Request) -> tuple[str, dict[str, float] | None]:
    if isinstance(answer, str) or "label_scores" not in answer:
        return _content(answer), None
    from promptloop.model.choosing import choose, reply

    scores = answer["label_scores"]
    params = request.params
    return reply("answer", choose(scores, params.get("label_bias"), float(params.get("temperature") or 0),
                                  int(params.get("seed") or 0))), scores


def _calls(answer: Answer) -> list[dict[str, Any]]:
    if isinstance(answer, str):
        return []
    return [{"id": c.get("id") or f"call_{i}", "name": c["name"],
             "arguments": c["arguments"] if isinstance(c.get("arguments"), str) else json.dumps(c.get("arguments", {}))}
            for i, c in enumerate(answer.get("tool_calls") or [])]


def _content(answer: Answer) -> str:
    return answer if isinstance(answer, str) else str(answer.get("content") or "")


@dataclass
class FakeModel:
    """Scripted answers: the first rule whose substring occurs in the last message wins,
    else the next queued answer, else ``default``. An answer is text or a dict with tool calls (``Answer``)."""

    rules: list[tuple[str, Answer]] = field(default_factory=list)
    queue: list[Answer] = field(default_factory=list)
    default: Answer = ""
    history: list[Request] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    responder: Callable[[Request], Answer] | None = None
    budget: Budget | None = None

    def on(self, substring: str, answer: Answer) -> FakeModel:
        self.rules.append((substring, answer))
        return self

    def answer(self, request: Request) -> Answer:
        if self.responder is not None:
            return self.responder(request)
        text = str(request.messages[-1].get("content") or "") if request.messages else ""
        for needle, answer in self.rules:
            if needle in text:
                return answer
        if self.queue:
            return self.queue.pop(0)
        return self.default

    async def complete(self, request: Request) -> Completion:
        if self.budget is not None:
            self.budget.reserve(self.usage)
        self.history.append(request)
        answer = self.answer(request)
        text, scores = _scored(answer, request)
        calls = [tool_call(c["name"], c["arguments"], c["id"]) for c in _calls(answer)]
        c = Completion(text=text, model=request.model,
                       input_tokens=sum(len(str(m.get("content", "")).split()) for m in request.messages),
                       output_tokens=len(text.split()) + len(calls), cost_usd=0.0, latency_s=0.0, tool_calls=calls,
                       label_scores=scores)
        self.usage.add(c, request.purpose)
        return c

    def calls(self, purpose: str | None = None) -> list[Request]:
        return [r for r in self.history if purpose is None or r.purpose == purpose]


class FakeServer:
    """An OpenAI-compatible chat server on 127.0.0.1, run in a background thread.

    The answer is ``answer(body)`` (default: "ok"). A last message containing
    ``FAULT:429``/``FAULT:500`` fails the first ``fault_times`` requests for that text;
    ``FAULT:hang`` never answers; ``FAULT:malformed`` returns broken JSON once.
    """

    def __init__(self, *, latency: float = 0.0, answer: Callable[[dict[str, Any]], Answer] | None = None,
                 fault_times: int = 1, retry_after: float = 0.05) -> None:
        self.latency = latency
        self.answer = answer or (lambda body: "ok")
        self.fault_times = fault_times
        self.retry_after = retry_after
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests it was answering at once
        self.seen: Counter[str] = Counter()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: Any = None
        self._started = threading.Event()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        body = await request.json()
        self.requests.append(body)
        text = str(body["messages"][-1].get("content") or "") if body.get("messages") else ""
        self.seen[text] += 1
        n = self.seen[text]
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        if "FAULT:hang" in text:
            await self._closing.wait()
            raise web.HTTPServiceUnavailable()
        if "FAULT:429" in text and n <= self.fault_times:
            return web.json_response({"error": {"message": "slow down"}}, status=429,
                                     headers={"Retry-After": str(self.retry_after)})
        if "FAULT:500" in text and n <= self.fault_times:
            return web.json_response({"error": {"message": "boom"}}, status=500)
        if "FAULT:malformed" in text and n <= self.fault_times:
            return web.Response(text='{"choices": [', content_type="application/json")
        answer = self.answer(body)
        content, calls = _content(answer), _calls(answer)
        null = isinstance(answer, dict) and "content" in answer and answer["content"] is None  # as some servers do
        message: dict[str, Any] = {"role": "assistant", "content": None if null else content or (None if calls
                                                                                                else "")}
        if calls:
            message["tool_calls"] = [{"id": c["id"], "type": "function",
                                      "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls]
        return web.json_response({
            "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "model": body.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": max(1, len(content.split())),
                      "total_tokens": 10 + max(1, len(content.split()))},
        })

    async def _start(self) -> None:
        from aiohttp import web

        self._closing = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_post("/chat/completions", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def start(self) -> FakeServer:
        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._start())
            self._started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        self._started.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        loop = self._loop

        async def shutdown() -> None:
            self._closing.set()
            await self._runner.cleanup()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in others:
                t.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread:
            self._thread.join(10)
        loop.close()
        self._loop = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:  # python -m promptloop.testing --port P --latency S (for benchmarks)
    import argparse
    import time

    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--tool-call", action="store_true", help="answer every request with one tool call")
    ap.add_argument("--answer", default="ok", help="the text answer (without --tool-call)")
    args = ap.parse_args()
    call: Answer = {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}]}
    text: Answer = args.answer
    server = FakeServer(latency=args.latency, answer=lambda body: call if args.tool_call else text)
    server.port = args.port
    server.start()
    print(json.dumps({"port": server.port}), flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
