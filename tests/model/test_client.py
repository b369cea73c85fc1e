"""The real model layer against a local fake OpenAI-compatible server: retries, faults, cache."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time

import pytest

from promptloop.errors import MissingKeyError, ModelConfigError
from promptloop.model.client import LM, Budget, Request
from promptloop.repo.config import load_config
from promptloop.scoring.eval_run import evaluate_prompt, load_task, run_eval
from promptloop.testing import FakeServer
from tests.conftest import point_at

FAULT_CASES = """cases:
  - {id: ok, inputs: {question: "plain question"}, expected: NUM}
  - {id: rate, inputs: {question: "FAULT:429 question"}, expected: NUM}
  - {id: err500, inputs: {question: "FAULT:500 question"}, expected: NUM}
  - {id: broken, inputs: {question: "FAULT:malformed question"}, expected: NUM}
  - {id: hang, inputs: {question: "FAULT:hang question"}, expected: NUM}
"""


INTERRUPT_CASES = """cases:
  - {id: a, inputs: {question: "question a"}, expected: NUM}
  - {id: b, inputs: {question: "question b"}, expected: NUM}
  - {id: c, inputs: {question: "question c"}, expected: NUM}
  - {id: d, inputs: {question: "question d"}, expected: NUM}
  - {id: hang, inputs: {question: "FAULT:hang question"}, expected: NUM}
"""


@pytest.fixture
def fault_repo(repo):
    (repo / "golden" / "faults.yaml").write_text(FAULT_CASES)
    (repo / "golden" / "interrupt.yaml").write_text(INTERRUPT_CASES)
    return repo


def configure(repo, server, timeout=0.5, retries=2):
    point_at(repo, server.api_base)
    text = (repo / "promptloop.yaml").read_text()
    text = re.sub(r"(?m)^timeout: .*$", f"timeout: {timeout}", text)
    text = re.sub(r"(?m)^retries: .*$", f"retries: {retries}", text)
    (repo / "promptloop.yaml").write_text(text)
    return load_config(repo)


def test_faults_retried_and_reported_per_case(fault_repo):
    with FakeServer(answer=lambda body: "NUM", retry_after=0.3) as server:
        config = configure(fault_repo, server)
        start = time.perf_counter()
        report = run_eval(config, "trec", golden="faults")
        elapsed = time.perf_counter() - start
        by_id = {r.case_id: r for r in report.results}
        assert [i for i in by_id if by_id[i].passed] == ["ok", "rate", "err500", "broken"]
        assert by_id["hang"].error and "no answer within 0.5 s" in by_id["hang"].error
        assert report.summary.errors == 1
        assert elapsed >= 0.3  # Retry-After was honoured
        seen = dict(server.seen)
        assert seen["Question: FAULT:429 question\nLabel:\n"] == 2
        assert seen["Question: FAULT:hang question\nLabel:\n"] == 3  # 1 try + 2 retries

        # Rerun: everything paid for is cached; only the failed case is tried again.
        before = len(server.requests)
        again = run_eval(config, "trec", golden="faults")
        assert len(server.requests) - before == 3
        assert again.calls == 0 and again.summary.usage["cached"] == 4


def test_interrupted_run_keeps_paid_calls(fault_repo):
    with FakeServer(answer=lambda body: "NUM") as server:
        config = configure(fault_repo, server, timeout=30, retries=0)
        prompt, golden = load_task(config, "trec", "interrupt")

        async def interrupted() -> None:
            lm = LM(cache_path=config.cache_dir / "cache.sqlite", timeout=30, retries=0)
            task = asyncio.ensure_future(evaluate_prompt(config, prompt, golden, client=lm))
            for _ in range(1000):  # until the four answerable calls are paid and cached; 'hang' is pending
                if lm.usage.calls == 4 and len(server.requests) == 5:
                    break
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await lm.aclose()

        asyncio.run(interrupted())
        paid = len(server.requests)
        assert paid == 5
        configure(fault_repo, server, timeout=0.3, retries=0)
        report = run_eval(load_config(fault_repo), "trec", golden="interrupt")
        assert len(server.requests) - paid == 1  # only the interrupted call is made again
        assert report.summary.usage["cached"] == 4


def test_no_cache_calls_again(repo):
    with FakeServer(answer=lambda body: "NUM") as server:
        config = configure(repo, server)
        run_eval(config, "trec", limit=3)
        run_eval(config, "trec", limit=3, no_cache=True)
        assert len(server.requests) == 6


def test_cache_key_covers_model_params_and_sample():
    base = Request("m", [{"role": "user", "content": "x"}], {"temperature": 0})
    assert base.key() == Request("m", [{"role": "user", "content": "x"}], {"temperature": 0}).key()
    others = [Request("m2", base.messages, base.params), Request("m", base.messages, {"temperature": 1}),
              Request("m", base.messages, base.params, sample=1),
              Request("m", [{"role": "user", "content": "y"}], base.params)]
    assert len({base.key(), *(o.key() for o in others)}) == 5


def test_answers_the_embedded_model_cached_under_an_older_decoding_are_not_served(monkeypatch):
    from promptloop.model import embedded

    local = Request("local/smollm2", [{"role": "user", "content": "x"}], {"temperature": 0})
    hosted = Request("openai/gpt-4o-mini", local.messages, local.params)
    before = (local.key(), hosted.key())
    monkeypatch.setattr(embedded, "ENGINE_REVISION", embedded.ENGINE_REVISION + 1)
    assert local.key() != before[0]  # the engine's next revision misses what this one cached
    assert hosted.key() == before[1]  # a hosted model's cache is not the engine's to drop


def test_missing_api_key_names_env_var(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    async def go() -> None:
        async with LM(cache_path=tmp_path / "c.sqlite") as lm:
            await lm.complete(Request("openai/gpt-4o-mini", [{"role": "user", "content": "hi"}]))

    with pytest.raises(MissingKeyError, match="OPENAI_API_KEY"):
        asyncio.run(go())


def test_unknown_model_is_a_config_error(tmp_path):
    async def go() -> None:
        async with LM() as lm:
            await lm.complete(Request("nosuchprovider-model", [{"role": "user", "content": "hi"}]))

    with pytest.raises(ModelConfigError, match="provider/model"):
        asyncio.run(go())


def test_budget_caps_paid_calls_exactly(repo):
    with FakeServer(answer=lambda body: "NUM") as server:
        configure(repo, server)
        budget = Budget(calls=4)

        async def go() -> None:
            async with LM(budget=budget, concurrency=8) as lm:
                reqs = [Request("openai/x", [{"role": "user", "content": str(i)}], api_base=server.api_base)
                        for i in range(10)]
                results = await asyncio.gather(*(lm.complete(r) for r in reqs), return_exceptions=True)
                assert sum(1 for r in results if not isinstance(r, Exception)) == 4
                assert lm.usage.calls == 4

        asyncio.run(go())
        assert len(server.requests) == 4


def test_cost_and_tokens_from_litellm_price_map(repo):
    with FakeServer(answer=lambda body: "one two three") as server:

        async def go():
            async with LM() as lm:
                return await lm.complete(Request("openai/gpt-4o-mini", [{"role": "user", "content": "x"}],
                                                 api_base=server.api_base))

        c = asyncio.run(go())
        assert (c.input_tokens, c.output_tokens) == (10, 3)
        assert c.cost_usd is not None and c.cost_usd > 0
        assert server.requests[0]["model"] == "gpt-4o-mini"


def test_token_budget_never_overshot_even_concurrently(repo):
    with FakeServer(answer=lambda body: "ok") as server:
        budget = Budget(tokens=50)

        async def go() -> None:
            async with LM(budget=budget, concurrency=8) as lm:
                reqs = [Request("openai/x", [{"role": "user", "content": f"q{i}"}], {"max_tokens": 5},
                                api_base=server.api_base) for i in range(10)]
                await asyncio.gather(*(lm.complete(r) for r in reqs), return_exceptions=True)
                for r in reqs:  # sequentially, as much as still fits
                    try:
                        await lm.complete(Request(r.model, r.messages, r.params, r.api_base, sample=1))
                    except Exception:
                        break
                assert lm.usage.tokens <= 50
                assert lm.usage.calls >= 3  # worst case 2 + 8 + 5 = 15 per call; real 11
                assert budget.held_tokens == 0

        asyncio.run(go())


def test_the_openai_compatible_path_never_imports_litellm(repo, tmp_path):
    import json as _json

    with FakeServer(answer=lambda body: "NUM") as server:
        configure(repo, server, retries=0)
        script = ("import sys, json\nfrom pathlib import Path\nfrom promptloop.repo.config import load_config\n"
                  "from promptloop.scoring.eval_run import run_eval\n"
                  f"r = run_eval(load_config(Path({str(repo)!r})), 'trec', limit=5, no_cache=True)\n"
                  "print(json.dumps({'litellm': 'litellm' in sys.modules, 'calls': r.calls}))\n")
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                             env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
        assert out.returncode == 0, out.stderr
        data = _json.loads(out.stdout.strip().splitlines()[-1])
        assert data == {"litellm": False, "calls": 5}
        assert len(server.requests) == 5


def test_prices_come_from_the_shipped_price_map_without_litellm():
    from promptloop.model.routes import price_of
    from promptloop.model.transports import OPENAI_COMPATIBLE, resolve

    inp, outp = price_of("openai/gpt-4o-mini", "gpt-4o-mini")
    assert inp is not None and outp is not None and 0 < inp < outp
    route = resolve("openai/gpt-4o-mini", "http://127.0.0.1:9/v1")
    assert route.transport is OPENAI_COMPATIBLE
    assert route.cost(1000, 1000) == pytest.approx(1000 * inp + 1000 * outp)


def test_an_answer_with_a_lone_surrogate_is_cached_scored_and_reported(repo):
    """A server may escape half a surrogate pair ("\\ud800"): UTF-8 cannot hold it, so the cache and the
    reports could not either. The answer keeps its text with U+FFFD in that place, is cached and reported."""
    from promptloop.scoring.reports import to_json

    with FakeServer(answer=lambda body: "NUM \ud800") as server:
        config = configure(repo, server)
        run_eval(config, "trec", limit=2)
        again = run_eval(config, "trec", limit=2)
    assert len(server.requests) == 2 and again.calls == 0
    assert [r.output for r in again.results] == ["NUM \ufffd"] * 2
    assert "NUM \ufffd" in to_json(again).encode("utf-8").decode("utf-8")


@pytest.mark.parametrize("flags, want", [
    ([], ("ok", None)),
    (["--answer", '{"city": "Paris"}'], ('{"city": "Paris"}', None)),
    (["--tool-call"], (None, "get_weather")),
])
def test_the_benchmarks_fake_server_answers_as_told(flags, want):
    """`python -m promptloop.testing` (what the benchmarks start): a fixed text answer, or one tool call."""
    import urllib.request

    server = subprocess.Popen([sys.executable, "-m", "promptloop.testing", "--latency", "0", *flags],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = json.loads(server.stdout.readline())["port"]
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            message = json.loads(r.read())["choices"][0]["message"]
    finally:
        server.terminate()
        server.wait()
    calls = message.get("tool_calls") or []
    assert (message.get("content"), calls[0]["function"]["name"] if calls else None) == want
