from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from promptloop.repo.config import Config, load_config
from promptloop.testing import FakeServer
from tests.classifier import rrepo  # noqa: F401  (a fixture: the shared classifier repo)

# Tests never reach the network: litellm reads its bundled price map instead of fetching one.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# Validation markers (repo/files.py) in a directory of this test run, not the user's ~/.cache.
if "PROMPTLOOP_CACHE_HOME" not in os.environ:
    os.environ["PROMPTLOOP_CACHE_HOME"] = tempfile.mkdtemp(prefix="promptloop-test-cache-")
    atexit.register(shutil.rmtree, os.environ["PROMPTLOOP_CACHE_HOME"], True)  # not left behind in /tmp

ROOT = Path(__file__).resolve().parent.parent
# Variables of a developer's shell that would change what a test sees (endpoints, keys, switches).
ISOLATED_PREFIXES = ("OPENAI_", "PROMPTLOOP_", "LITELLM_", "ANTHROPIC_", "GEMINI_", "AWS_")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test starts from the same environment, whatever the shell running it holds: no keys, no
    endpoints, no promptloop switches, and a cache home of its own."""
    for key in [k for k in os.environ if k.startswith(ISOLATED_PREFIXES)]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    monkeypatch.setenv("PROMPTLOOP_CACHE_HOME", str(tmp_path_factory.mktemp("cache-home")))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of this repo's worked examples (prompts, golden sets, config)."""
    dest = tmp_path / "repo"
    dest.mkdir()
    shutil.copy(ROOT / "promptloop.yaml", dest / "promptloop.yaml")
    shutil.copytree(ROOT / "prompts", dest / "prompts")
    shutil.copytree(ROOT / "golden", dest / "golden")
    return dest


@pytest.fixture
def config(repo: Path) -> Config:
    return load_config(repo)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as s:
        yield s


class SurfacingRunner(CliRunner):
    """A CliRunner that lets an unexpected exception surface as itself, with its traceback, instead of
    turning it into an exit code a test might take for a user error (typer.Exit still gives the code)."""

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("catch_exceptions", False)
        return super().invoke(*args, **kwargs)


@pytest.fixture
def cli() -> CliRunner:
    return SurfacingRunner()


def point_at(repo: Path, api_base: str, model: str = "openai/fake-model") -> None:
    """Make every model in the repo's config an OpenAI-compatible server at api_base."""
    text = (repo / "promptloop.yaml").read_text()
    text, n = re.subn(r"(?m)^  default: .*$", f"  default: {{name: {model}, api_base: '{api_base}'}}", text)
    assert n == 1
    (repo / "promptloop.yaml").write_text(text)
