"""The README's tour and loop, run as written on the embedded model (slow: the real model answers)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def block_after(heading: str) -> list[str]:
    """The command lines of the first ```sh block after ``heading``."""
    rest = README.split(heading, 1)[1]
    body = rest.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in body.splitlines() if line.strip()]


def script(lines: list[str]) -> str:
    """Each line run in one shell, in order; a line may exit 1 only where its comment says `exit 1`."""
    out = ["set -u"]
    for n, line in enumerate(lines, 1):
        allowed = "0|1" if re.search(r"#.*\bexit 1\b", line) else "0"
        said = shlex.quote(f"README line {n} exited with an unexpected code: {line}")
        out.append(f"{line}\nrc=$?; case $rc in {allowed}) ;; *) echo {said} \"($rc)\" >&2; exit 99;; esac")
    return "\n".join(out) + "\n"


def run_block(lines: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "HOME": str(home), "COLUMNS": "160", "GIT_AUTHOR_NAME": "Reader", "GIT_AUTHOR_EMAIL": "reader@example.com",
           "GIT_COMMITTER_NAME": "Reader", "GIT_COMMITTER_EMAIL": "reader@example.com"}
    return subprocess.run(["bash", "-c", script(lines)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=1500)


@pytest.mark.slow
def test_the_tour_runs_as_written(tmp_path):
    pytest.importorskip("llama_cpp")
    lines = block_after("## A five-minute tour")
    assert lines[0].startswith("promptloop init")
    r = run_block(lines, tmp_path, tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    repo = tmp_path / "myprompts"
    assert (repo / "report.junit.xml").is_file() and (repo / "report.json").stat().st_size > 0
    assert "dirty" not in subprocess.run(["promptloop", "history", "sentiment"], cwd=repo, capture_output=True,
                                         text=True, env={**os.environ, "PATH": f"{Path(sys.executable).parent}"
                                                         f"{os.pathsep}{os.environ.get('PATH', '')}"}).stdout


@pytest.mark.slow
def test_the_loop_runs_as_written(tmp_path):
    """From a clone's root: import the shipped traces, promote failures, optimize, gate, history, canary."""
    pytest.importorskip("llama_cpp")
    clone = tmp_path / "clone"
    shutil.copytree(ROOT / "examples", clone / "examples")
    r = run_block(block_after("### The loop"), clone, tmp_path)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-3000:]
    loop = clone / "loop"
    branches = subprocess.run(["git", "branch", "--list", "promptloop/*"], cwd=loop, capture_output=True,
                              text=True).stdout
    assert "promptloop/sentiment-" in branches and "rollback" in branches
    assert "imported 6" in r.stdout and "pass" in r.stdout
