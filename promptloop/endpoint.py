"""Where a model is served: the one parser for ``api_base`` (config and prompt files) and ``-m NAME@URL``.

Only an absolute http(s) URL with a host is an endpoint. Anything else is refused with the fix, never read as
part of a model name: a name the provider does not know would send the prompts — and the API key — to the
default host instead of the one the user meant. Credentials in the URL are refused too: they would end up in
logs, reports and git, and the key belongs in the provider's environment variable."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# What may follow "@" in a model name: a version or date (Vertex: claude-3-5-sonnet@20240620).
_VERSION = re.compile(r"[A-Za-z0-9_-]+")


def endpoint_problem(url: str) -> str | None:
    """Why ``url`` cannot be an endpoint, or None."""
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError as e:
        return f"{url!r} is not a valid URL ({e}); write it as http://HOST:PORT/v1"
    if parts.scheme not in ("http", "https") or not host:
        return f"{url!r} is not an absolute http(s) URL; write it as http://HOST:PORT/v1"
    if parts.username or parts.password:
        return ("the endpoint URL holds credentials; remove them and put the key in the provider's environment "
                "variable (e.g. OPENAI_API_KEY)")
    return None


def split_model_option(text: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME@URL`` as ``-m`` takes it: (name, endpoint or None). A ``@`` followed by anything but a
    version (``@20240620``) must be followed by an endpoint; ValueError says why it is not one."""
    if "@http" in text:  # the first "@http": the URL may itself hold an "@" (credentials, refused below)
        name, _, rest = text.partition("@http")
        rest = "http" + rest
    else:
        name, at, rest = text.rpartition("@")
        if not at or (_VERSION.fullmatch(rest) and rest != "localhost"):
            return text, None
    if not name:
        raise ValueError(f"{text!r} names no model before the @; write NAME@http://HOST:PORT/v1")
    why = endpoint_problem(rest) if rest else "nothing follows the @; write NAME@http://HOST:PORT/v1"
    if why:
        raise ValueError(why)
    return name, rest
