"""The prompt repo's commands: init, validate, schema, models."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from promptloop.cli.app import LoopOrder, app, command, console, esc, fail, repo_config, state


@app.command()
@command
def init(directory: Annotated[Path, typer.Argument(metavar="DIR", help="Where to create the prompt repo.")]
         = Path(".")) -> None:
    """Create a prompt repo: promptloop.yaml, an example prompt and golden set, .gitignore."""
    from promptloop.repo.scaffold import scaffold

    base = directory if directory.is_absolute() else state["dir"] / directory
    created, kept = scaffold(base)
    con = console()
    for p in created:
        con.print(f"created {p}")
    for p in kept:
        con.print(f"kept    {p} (already there)")
    con.print(f"next: cd {base} && promptloop eval sentiment")


@app.command()
@command
def validate() -> None:
    """Check promptloop.yaml, every prompt and every golden set, offline (exit 0 or 2)."""
    from promptloop.flows.validate import validate as check_repo

    v = check_repo(repo_config())
    err = console(stderr=True)
    for r in v.retirements:
        err.print(f"[yellow]warning:[/] {esc(r.message())}")
    for name, why in [*v.stale_judges, *v.stale_calibrations]:
        err.print(f"[yellow]warning:[/] {esc(name)}: {esc(why)}")
    if v.errors:
        for e in v.errors:
            err.print(f"[bold red]error:[/] {esc(str(e))}")
        raise typer.Exit(2)
    console().print(f"ok: {v.checked} files valid")


@app.command()
@command
def schema(
    name: Annotated[str | None, typer.Argument(metavar="NAME", help="prompt, golden, config, trace or labels")] = None,
    write: Annotated[Path | None, typer.Option("--write", metavar="DIR",
                                               help="Write every schema as NAME.schema.json into DIR.")] = None,
) -> None:
    """Print a file format's JSON Schema, self-contained (for editors and tools such as check-jsonschema)."""
    from promptloop.repo.schema_files import SCHEMA_NAMES, standalone

    if write is not None:
        write.mkdir(parents=True, exist_ok=True)
        for n in SCHEMA_NAMES:
            (write / f"{n}.schema.json").write_text(json.dumps(standalone(n), indent=2) + "\n", encoding="utf-8")
        console().print(f"wrote {len(SCHEMA_NAMES)} schemas to {write}")
        return
    if name not in SCHEMA_NAMES:
        raise fail(f"no schema '{name}'; use one of: {', '.join(SCHEMA_NAMES)} (or --write DIR)")
    sys.stdout.write(json.dumps(standalone(name), indent=2) + "\n")


@app.command()
@command
def models(
    check: Annotated[bool, typer.Option("--check", help="Make one tiny real call to each model (costs a few "
                                                         "tokens) so that ready means it answers.")] = False,
) -> None:
    """Show each configured model, where its calls go, and whether it can be used now (exit 2 if not)."""
    import asyncio

    from promptloop.flows.models import check_models
    from promptloop.render import render_models

    report = asyncio.run(check_models(repo_config(), call=check))
    render_models(console(), report.statuses)
    for r in report.retirements:
        console(stderr=True).print(f"[bold red]error:[/] {esc(r.message())}" if r.past
                                   else f"[yellow]warning:[/] {esc(r.message())}")
    if any(r.past for r in report.retirements):
        raise typer.Exit(2)
    if report.others and not report.blocking:
        console(stderr=True).print(f"note: {', '.join(report.others)} not ready, but only `optimize` or an unused "
                                   "role needs it")
    raise typer.Exit(2 if report.blocking else 0)


@app.command("bundle")
@command
def bundle_(
    prompts: Annotated[list[str] | None, typer.Argument(
        metavar="PROMPT", help="Only these prompts (default: all).")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", metavar="FILE",
                                         help="Where to write the bundle.")] = Path("prompts.json"),
) -> None:
    """Write prompts with their versions into one JSON file an app can ship (promptloop.load(..., bundle=))."""
    from promptloop.runtime.loading import bundle

    data = bundle(repo_config(), prompts or None)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    console().print(f"wrote {output}: " + ", ".join(f"{p['name']}@{p['version'][:10]}" for p in data["prompts"]))


cache_app = typer.Typer(help="The completion cache (traces and run logs are kept apart and left alone).",
                        no_args_is_help=True, rich_markup_mode=None, cls=LoopOrder)
app.add_typer(cache_app, name="cache")


@cache_app.command("info")
@command
def cache_info() -> None:
    """How many completions are cached, per model, and how much disk they take."""
    from promptloop.model.cache import CompletionCache

    config = repo_config()
    path = config.cache_dir / "cache.sqlite"
    if not path.exists():
        console().print(f"no completion cache yet at {path}")
        return
    cache = CompletionCache(path)
    try:
        s = cache.stats()
    finally:
        cache.close()
    console().print(f"{s['completions']} completion(s) in {s['path']} ({s['bytes'] / 1e6:.1f} MB)")
    for model, n in s["by_model"].items():
        console().print(f"  {esc(model)}: {n}")


@cache_app.command("clear")
@command
def cache_clear(model: Annotated[str | None, typer.Option(metavar="TEXT",
                                                          help="Only this model's completions.")] = None) -> None:
    """Delete cached completions (the next run pays for them again); imported traces and run logs stay."""
    from promptloop.model.cache import CompletionCache

    path = repo_config().cache_dir / "cache.sqlite"
    if not path.exists():
        console().print("nothing to clear")
        return
    cache = CompletionCache(path)
    try:
        n = cache.clear(model)
    finally:
        cache.close()
    console().print(f"deleted {n} cached completion(s)" + (f" of {esc(model)}" if model else ""))
