"""The self-contained HTML report: every section there, everything escaped, nothing fetched; and in a real
headless Chromium (when installed) the cases table renders."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from promptloop.cli import app
from promptloop.testing import FakeServer
from tests.conftest import point_at


class Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, int] = {}
        self.current: str | None = None
        self.external: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.current = a.get("id")
            self.tables[self.current] = 0
        elif tag == "tr" and self.current:
            self.tables[self.current] += 1
        if tag in ("script", "link", "img") and (a.get("src") or a.get("href")):
            self.external.append(a.get("src") or a.get("href"))

    def handle_data(self, data):
        self.text.append(data)


def html_report(cli, repo, tmp_path):
    (repo / "golden" / "trec.yaml").write_text(
        "cases:\n  - {id: a, inputs: {question: '<script>alert(1)</script>?'}, expected: LOC}\n"
        "  - {id: b, inputs: {question: 'Where?'}, expected: LOC}\n"
        "  - {id: c, inputs: {question: 'n?'}, expected: NUM}\n")
    out = tmp_path / "report.html"
    with FakeServer(answer=lambda body: "NUM") as server:
        point_at(repo, server.api_base)
        r = cli.invoke(app, ["-C", str(repo), "eval", "trec", "-o", str(out)])
    assert r.exit_code in (0, 1), r.output
    return out


def test_html_report_is_complete_escaped_and_self_contained(cli, repo, tmp_path):
    out = html_report(cli, repo, tmp_path)
    parsed = Tables()
    parsed.feed(out.read_text())
    assert parsed.tables["metrics"] > 3 and parsed.tables["confusion"] == 3  # header + NUM, LOC rows
    assert parsed.tables["cases"] == 3  # header + the failing cases a and b
    assert parsed.external == [] and "<script>alert(1)" not in out.read_text()
    assert "<script>alert(1)</script>?" in "".join(parsed.text)  # shown as text, never run


@pytest.mark.slow
def test_html_report_renders_in_headless_chromium(cli, repo, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    out = html_report(cli, repo, tmp_path)
    shot = tmp_path / "shot.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'ud'}"]
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1200,900", out.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 5000
    dom = subprocess.run([browser, *flags, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120)
    assert '<table id="cases">' in dom.stdout and "Where?" in dom.stdout
