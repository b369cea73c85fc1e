"""Prompt history from git: log, diff, rollback."""

from __future__ import annotations

from typing import Annotated

import typer

from promptloop.cli.app import app, command, console, esc, repo_config


@app.command("log")
@command
def log_(prompt: Annotated[str, typer.Argument(metavar="PROMPT", help="Prompt name.")]) -> None:
    """The versions of a prompt from git history, with recorded scores."""
    from promptloop.git.history import versions
    from promptloop.render import render_versions

    render_versions(console(), versions(repo_config(), prompt))


@app.command()
@command
def diff(
    prompt: Annotated[str, typer.Argument(metavar="PROMPT", help="Prompt name.")],
    a: Annotated[str | None, typer.Argument(metavar="REV", help="Older revision (default HEAD).")] = None,
    b: Annotated[str | None, typer.Argument(metavar="REV", help="Newer revision (default the working tree).")] = None,
) -> None:
    """The prompt text diff between two versions, with their score deltas when known."""
    from promptloop.git.history import diff as prompt_diff
    from promptloop.render import render_diff

    render_diff(console(), prompt_diff(repo_config(), prompt, a, b))


@app.command()
@command
def rollback(
    prompt: Annotated[str, typer.Argument(metavar="PROMPT", help="Prompt name.")],
    to: Annotated[str, typer.Option("--to", help="The revision to bring back.", metavar="REV")],
    branch: Annotated[bool, typer.Option("--branch", help="Commit it on a new branch instead of the working "
                                                           "tree.")] = False,
) -> None:
    """Bring an old version back as an ordinary change; history is never rewritten."""
    from promptloop.git.history import rollback as do_rollback

    r = do_rollback(repo_config(), prompt, to, branch=branch)
    con = console()
    if r.branch:
        con.print(f"committed {r.commit[:10] if r.commit else ''} on branch {esc(r.branch)} restoring {r.rel} "
                  f"at {r.rev[:10]}; push it: git push -u origin {esc(r.branch)}")
    else:
        con.print(f"restored {r.rel} as at {r.rev[:10]} in the working tree; review with `git diff`, then commit")
