"""The use cases, one module each: eval, regress, optimize and ingest (import).

Each is the one function a command calls. A flow takes the repo's config, an opened model client (with
its budget) and plain options, and returns a typed report; it never prints and never imports typer or rich.
"""
