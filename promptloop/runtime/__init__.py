"""The first mile of the loop, inside the application: prompts out of the repo, traces back in.

``loading`` reads a prompt by name at a version (working tree, a git ref, or a bundle file shipped with
the app) and renders it; ``recording`` appends the calls the app makes, in promptloop's own trace format,
to a JSONL file that ``promptloop import`` reads back with the exact prompt version; ``hooks`` connects
apps that already use litellm or OpenTelemetry.
"""
