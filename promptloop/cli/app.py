"""The Typer app, its global options, and the one wrapper that turns errors into one line and an exit code."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import typer.core

from promptloop.errors import PromptloopError

# The loop's order, not the order the command modules happen to be imported in.
ORDER = ("init", "validate", "schema", "eval", "history", "merge", "models", "optimize", "runs", "regress", "log",
         "diff", "rollback", "import", "traces", "golden", "compare", "bundle", "cache")


class PlainArgument(typer.core.TyperArgument):
    """An argument whose help names its value (PROMPT) and no Python type (``<list[str]>``)."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        # Usage as click, git and pytest write it: PROMPT when required, [PROMPT] when not (Typer: {PROMPT}).
        raw = self.metavar or (self.name or "").upper()
        name = raw if self.required else f"[{raw}]"
        return name + ("..." if self.nargs != 1 else "")

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        return [] if self.hidden else [self._usage_display_name()]


class LoopOrder(typer.core.TyperGroup):
    """Commands listed in the loop's order; their arguments' help without Python types."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        for param in getattr(cmd, "params", []):
            if type(param) is typer.core.TyperArgument:
                param.__class__ = PlainArgument  # Typer offers no argument class to choose; same fields
        return cmd


app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, cls=LoopOrder, rich_markup_mode=None,
                  help="promptloop: prompt engineering as an engineering loop that lives in git.")
state: dict[str, Path] = {"dir": Path(".")}
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def console(stderr: bool = False) -> Any:
    import os

    from rich.console import Console

    con = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not con.is_terminal and "COLUMNS" not in os.environ:
        # Piped or captured: tables as wide as they need, so ids and paths stay whole for grep and logs.
        con = Console(stderr=stderr, highlight=False, soft_wrap=True, width=240)
    return con


def fail(message: str, code: int = 2) -> typer.Exit:
    from promptloop.masking import redact_text

    console(stderr=True).print(f"[bold red]error:[/] {redact_text(message)}", markup=True, highlight=False)
    return typer.Exit(code)


def command(fn: F) -> F:
    """Turn promptloop errors into one line and an exit code; never a traceback for a user error."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PromptloopError as e:
            raise fail(esc(str(e)), e.exit_code) from None
        except OSError as e:  # a file the user named cannot be read or written
            where = f"{e.filename}: " if e.filename else ""
            raise fail(esc(f"{where}{e.strerror or e}"), 2) from None
        except Exception as e:  # damage deep inside a database file, found after it opened
            from promptloop.dbfile import is_damage

            if not is_damage(e):
                raise
            raise fail(esc(f"a database in the cache directory cannot be read ({e}); delete the damaged "
                           "*.sqlite file there and promptloop starts it afresh"), 2) from None
        except KeyboardInterrupt:
            raise fail("interrupted; every finished model call is cached, so rerunning continues "
                       "where this stopped", 130) from None

    return wrapper  # type: ignore[return-value]


def esc(text: str) -> str:
    """Untrusted text for the terminal: no Rich markup, control characters written out."""
    from rich.markup import escape

    from promptloop.masking import visible

    return escape(visible(text))


def repo_config() -> Any:
    from promptloop.repo.config import load_config

    return load_config(state["dir"])


def _version(value: bool) -> None:
    if value:
        from promptloop import __version__

        console().print(f"promptloop {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(directory: Annotated[Path | None, typer.Option(
        "-C", help="Run as if promptloop was started in DIR (like git -C).", metavar="DIR")] = None,
         env_file: Annotated[Path | None, typer.Option(
             "--env-file", metavar="FILE", help="Read KEY=VALUE lines into the environment (default: the prompt "
                                                "repo's .env, if any). Variables already set win.")] = None,
         version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False) -> None:
    if directory is not None and not directory.is_dir():
        raise fail(f"-C {directory}: no such directory")
    state["dir"] = directory or Path(".")
    if env_file is not None and not env_file.is_file():
        raise fail(f"--env-file {env_file}: no such file")
    load_env(env_file or _repo_env())


def _repo_env() -> Path | None:
    from promptloop.errors import RepoNotFound
    from promptloop.repo.config import find_root

    try:
        found = find_root(state["dir"]) / ".env"
    except RepoNotFound:
        return None
    return found if found.is_file() else None


def load_env(path: Path | None) -> None:
    """``KEY=VALUE`` lines (``export``, quotes and comments allowed) into ``os.environ``, never overriding
    what is already set; the values are never printed."""
    import os

    if path is None:
        return
    try:
        data = path.read_bytes()
        text = data.decode("utf-8-sig")
    except OSError as e:
        raise fail(f"{path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        bad_line = data[:e.start].count(b"\n") + 1
        raise fail(f"{path}:{bad_line}: not UTF-8 text; save it as UTF-8") from None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "\x00" in line:
            raise fail(f"{path}:{n}: holds a NUL character; remove it")
        key, sep, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key.replace("_", "").isalnum():
            raise fail(f"{path}:{n}: expected KEY=VALUE")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        os.environ.setdefault(key, value)


GRACE_S = 5.0  # how long the first Ctrl-C waits for calls in flight to land in the cache


def run_with_client(config: Any, work: Callable[[Any], Awaitable[T]], *, no_cache: bool = False,
                    jobs: int | None = None, budget: Any = None) -> T:
    """Run ``work(client)`` on a fresh model client; Ctrl-C loses no paid call.

    The first Ctrl-C stops new requests and waits up to ``GRACE_S`` for those in flight, whose answers
    are cached as they arrive; a second Ctrl-C stops at once.
    """
    import asyncio
    import signal

    from promptloop.errors import Interrupted
    from promptloop.model.client import open_client

    lm = open_client(config, no_cache=no_cache, concurrency=jobs, budget=budget,
                     on_status=lambda text: console(stderr=True).print(esc(text)))

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(work(lm))
        presses = 0

        def on_sigint() -> None:
            nonlocal presses
            presses += 1
            if presses == 1:
                lm.stop_new()
                console(stderr=True).print(f"interrupted: no new calls; waiting up to {GRACE_S:g} s for the calls in "
                                           "flight so their answers are cached (Ctrl-C again to quit now)")
                loop.call_later(GRACE_S, task.cancel)
            else:
                task.cancel()

        signals = (signal.SIGINT, signal.SIGTERM)  # a CI runner's cancel is a SIGTERM: the same care as Ctrl-C
        for sig in signals:
            try:
                loop.add_signal_handler(sig, on_sigint)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
                pass
        try:
            async with lm:
                return await task
        except asyncio.CancelledError:
            raise Interrupted("interrupted") from None
        finally:
            for sig in signals:
                try:
                    loop.remove_signal_handler(sig)
                except (NotImplementedError, RuntimeError, ValueError):
                    pass

    try:
        return asyncio.run(main())
    except Interrupted:
        raise Interrupted("interrupted; every answer that arrived is cached, so rerunning continues where this "
                          "stopped") from None
