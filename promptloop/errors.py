"""promptloop's one exception tree.

Every message says what went wrong *and* what to do next; the CLI prints ``str(error)`` on one line
and exits with ``error.exit_code``::

    PromptloopError (exit 2)
    ├── UsageError
    ├── ConfigError(file, line, column) ── TemplateError
    ├── RepoNotFound, GitError
    ├── ModelError(model, status, retry_after)
    │   ├── MissingKeyError, ModelConfigError, ModelNotAvailable
    │   └── TransientModelError (exit 3; the client retries it) ── RateLimited, ModelTimeout, BadResponse
    ├── Interrupted (exit 130)
    └── BudgetExceeded (exit 1)
"""

from __future__ import annotations

from promptloop.masking import redact_text

# Exit codes: 0 ok; 1 a threshold missed, a regression, no better prompt; 2 a usage or input error;
# 3 the model could not be reached or answered badly for some cases (and nothing worse happened).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_MODEL = 0, 1, 2, 3


class PromptloopError(Exception):
    """Base of every error promptloop raises on purpose. Its message never carries a secret: a provider
    that echoes an API key back in an error has it masked here, before any report, log or terminal."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str = "", *args: object) -> None:
        super().__init__(redact_text(str(message)), *args)


class UsageError(PromptloopError):
    """The command line asked for something that cannot be done."""


class ConfigError(PromptloopError):
    """A file in the prompt repo is malformed or inconsistent."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.detail = redact_text(message)
        self.others: list[ConfigError] = []  # further errors in the same file, for `validate` to list
        where = ""
        if file:
            where = file
            if line:
                where += f":{line}"
                if column:
                    where += f":{column}"
            where += ": "
        super().__init__(where + message)


class TemplateError(ConfigError):
    """A template uses a variable it does not declare, or syntax promptloop does not run."""


class RepoNotFound(PromptloopError):
    """No promptloop.yaml above the working directory."""


class DamagedFile(PromptloopError):
    """A local database promptloop keeps (cache, traces, eval history) cannot be read."""


class GitError(PromptloopError):
    """A git operation could not be done safely."""


class ModelError(PromptloopError):
    """A model call failed; only a ``TransientModelError`` is worth retrying."""

    def __init__(self, message: str, *, model: str = "", status: int | None = None,
                 retry_after: float | None = None) -> None:
        self.model = model
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)


class MissingKeyError(ModelError):
    """The provider needs an API key that is not in the environment."""


class ModelConfigError(ModelError):
    """The model name or its parameters are wrong; no retry can help."""


class ModelNotAvailable(ModelError):
    """The model cannot run here (e.g. the embedded model's extra is not installed)."""


class TransientModelError(ModelError):
    """Rate limits, 5xx, timeouts, unreachable endpoints and broken responses: worth retrying."""

    exit_code = EXIT_MODEL


class RateLimited(TransientModelError):
    pass


class ModelTimeout(TransientModelError):
    pass


class BadResponse(TransientModelError):
    pass


class Interrupted(PromptloopError):
    """The user pressed Ctrl-C: no new call is sent; calls in flight are awaited and cached."""

    exit_code = 130


class BudgetExceeded(PromptloopError):
    """A run reached its call, token or USD budget."""

    exit_code = EXIT_FAILED
