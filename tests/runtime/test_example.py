"""The end-to-end example in examples/app_loop runs as written, on the real embedded model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "app_loop" / "run.sh"


@pytest.mark.slow
def test_the_app_loop_example_runs(tmp_path):
    pytest.importorskip("llama_cpp")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "HOME": str(tmp_path), "COLUMNS": "120"}
    r = subprocess.run(["bash", str(EXAMPLE), str(tmp_path)], capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    assert "imported 6" in out and "matched to prompts 6" in out  # every recorded call, by exact version
    assert "loop done" in out
    golden = (tmp_path / "prompts-repo" / "golden" / "sentiment.yaml").read_text()
    failed = out.count("BAD ")
    assert golden.count("- id:") == 5 + failed  # each failure the app saw is now a golden case
