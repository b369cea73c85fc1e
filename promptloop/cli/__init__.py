"""The command line: each command parses, calls one core function, renders with :mod:`promptloop.render`,
and exits 0 ok, 1 a threshold missed / a regression / no better prompt, 2 a usage or input error,
3 model errors (unreachable, bad answers) and nothing worse.

Commands are grouped by the room of the loop they drive; importing them registers them on ``app``.
"""

from promptloop.cli import (  # noqa: F401  (registers the commands)
    history_commands,
    judge_commands,
    migrate_commands,
    optimize_commands,
    repo_commands,
    score_commands,
    trace_commands,
)
from promptloop.cli.app import app

__all__ = ["app", "run"]


def run() -> None:
    import gc

    try:
        app()
    finally:
        # Every file is written and closed and every store committed by now: spare the interpreter its
        # last garbage collection over all of the run's objects (measured: 40 ms of a 1,000-case eval).
        gc.freeze()
