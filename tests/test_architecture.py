"""The package's import rules (ARCHITECTURE.md), checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "promptloop"

# Who may import whom, by room. A room may always import itself and the rooms listed here.
ALLOWED: dict[str, set[str]] = {
    "masking": set(),
    "codec": set(),
    "endpoint": set(),
    "errors": {"masking", "codec"},
    "dbfile": {"errors", "masking", "codec"},
    "repo": {"errors", "masking", "codec", "endpoint"},
    "model": {"errors", "masking", "codec", "endpoint", "dbfile"},
    "scoring": {"errors", "masking", "repo", "model", "codec", "dbfile"},
    "git": {"errors", "masking", "repo", "codec"},
    "traces": {"errors", "masking", "repo", "model", "scoring", "git", "codec", "dbfile"},
    "optimize": {"errors", "masking", "repo", "model", "scoring", "git", "traces", "codec"},
    "runtime": {"errors", "masking", "repo", "model", "scoring", "git", "traces", "codec"},
    "ci": {"errors", "masking", "repo", "scoring", "git", "codec"},
    "flows": {"errors", "masking", "repo", "model", "scoring", "git", "traces", "optimize", "codec"},
    "render": {"errors", "masking", "repo", "model", "scoring", "git", "traces", "optimize", "flows", "codec"},
    "cli": {"errors", "masking", "dbfile", "repo", "model", "scoring", "git", "traces", "optimize", "runtime", "flows",
            "render", "ci", "codec"},
    "testing": {"model", "masking", "codec"},
    "__init__": {"runtime"},
    "__main__": {"cli"},
}
THIRD_PARTY_HOMES = {"litellm": {"model"}, "typer": {"cli"}, "rich": {"cli", "render"}, "llama_cpp": {"model"}}


def room(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imports(path: Path) -> list[tuple[str, int]]:
    """Every module name imported anywhere in the file (including inside functions), with its line."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: use absolute imports (promptloop.room.module)"
            out.append((node.module or "", node.lineno))
    return out


def sources() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py"))


def test_every_room_is_known() -> None:
    assert {room(p) for p in sources()} <= set(ALLOWED)


def test_rooms_import_only_downwards() -> None:
    broken = []
    for path in sources():
        here = room(path)
        for name, line in imports(path):
            parts = name.split(".")
            if parts[0] == "promptloop" and len(parts) > 1:
                there = parts[1]
                if there != here and there not in ALLOWED[here]:
                    broken.append(f"{path.relative_to(PKG)}:{line} ({here}) imports {name}")
            home = THIRD_PARTY_HOMES.get(parts[0])
            if home is not None and here not in home:
                broken.append(f"{path.relative_to(PKG)}:{line} ({here}) imports {parts[0]}")
    assert not broken, "\n".join(broken)


def test_only_the_model_seam_imports_litellm() -> None:
    users = {str(p.relative_to(PKG)) for p in sources() for name, _ in imports(p) if name.split(".")[0] == "litellm"}
    assert users == {"model/routes.py", "model/litellm_hooks.py"}


def test_core_never_prints() -> None:
    printing = []
    for path in sources():
        if room(path) in ("cli", "render", "testing", "__main__") or path.name == "fakes.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            prints = isinstance(f, ast.Name) and f.id in ("print", "Console")
            writes = (isinstance(f, ast.Attribute) and f.attr == "write" and isinstance(f.value, ast.Attribute)
                      and f.value.attr in ("stdout", "stderr"))
            if prints or writes:
                printing.append(f"{path.relative_to(PKG)}:{node.lineno}")
    assert not printing


def test_no_function_over_60_lines() -> None:
    long = [f"{p.relative_to(PKG)}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)"
            for p in sources() for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and (n.end_lineno or 0) - n.lineno >= 60]
    assert not long


def test_no_module_circles() -> None:
    graph: dict[str, set[str]] = {}
    for path in sources():
        mod = ".".join(("promptloop", *path.relative_to(PKG).with_suffix("").parts)).removesuffix(".__init__")
        graph[mod] = {n for n, _ in imports(path) if n.startswith("promptloop")}
    modules = set(graph)

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges = {m: {r for n in deps if (r := resolve(n)) and r != m} for m, deps in graph.items()}
    # A package's __init__ re-exporting its own modules is not a circle; drop parent->child edges.
    edges = {m: {d for d in ds if not d.startswith(m + ".")} for m, ds in edges.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in edges[m]:
            if state.get(d) == 1:
                cycles.append([*stack[stack.index(d):], d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)
    assert not cycles, cycles


def test_no_module_over_the_size_limit() -> None:
    long = {str(p.relative_to(PKG)): n for p in sources()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long


def test_every_package_says_what_flows_through_it() -> None:
    for init in PKG.rglob("__init__.py"):
        if init.parent == PKG:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc) > 40, f"{init.relative_to(PKG)} needs a docstring"
