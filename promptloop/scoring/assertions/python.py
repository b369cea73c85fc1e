"""The soft ``python`` check: a function from the prompt repo returns pass/score/reason.

Only a module that is a file inside the prompt repo is run (``checks:fn`` is ``checks.py`` at the repo's
root, ``pkg.mod:fn`` is ``pkg/mod.py``): never ``builtins``, ``os`` or anything else installed, so a prompt
file cannot make promptloop evaluate a model's output. That code runs with the job's environment.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from promptloop.repo.prompts import Assertion, Case, module_file
from promptloop.scoring.assertions.base import Context, Result, evaluator

_loaded: dict[tuple[Path, float], ModuleType] = {}
_lock = threading.Lock()


def load_check(root: Path | None, target: str) -> Callable[..., Any]:
    module_name, _, func_name = target.partition(":")
    path = module_file(root, module_name) if root is not None else None
    if path is None:
        raise ValueError(f"'{module_name}' is not a Python file in the prompt repo; python checks run only "
                         f"the repo's own code (write it as module:function, e.g. checks:my_check)")
    key = (path.resolve(), path.stat().st_mtime)
    with _lock:
        module = _loaded.get(key)
        if module is None:
            spec = importlib.util.spec_from_file_location(f"promptloop_check_{abs(hash(key))}", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.path.insert(0, str(root))  # so the check can import its neighbours; removed right after
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.remove(str(root))
            _loaded[key] = module
    fn = getattr(module, func_name, None)
    if not callable(fn):
        raise ValueError(f"{path.name} has no function '{func_name}'")
    return fn


@evaluator("python")
def python(output: str, a: Assertion, case: Case, ctx: Context) -> Result:
    """Calls ``module:function`` from the prompt repo with (output, case) -> bool | float | dict."""
    target = str(a.value)
    fn = load_check(ctx.root, target)
    out = fn(output, {"id": case.id, "inputs": case.inputs, "expected": case.expected, "tags": case.tags})
    threshold = 0.5 if a.threshold is None else a.threshold
    if isinstance(out, dict):
        score = float(out.get("score", 1.0 if out.get("pass") else 0.0))
        passed = bool(out.get("pass", score >= threshold))
        return Result("python", passed, score, str(out.get("reason", target)))
    if isinstance(out, bool):
        return Result("python", out, float(out), target)
    score = float(out)
    return Result("python", score >= threshold, score, f"{target} scored {score:g}")
