"""The prompt repo on disk: ``promptloop.yaml``, ``prompts/*.yaml`` and ``golden/*.yaml``.

In: files in the working tree (or text read from a git revision). Out: validated ``Config``,
``Prompt``, ``GoldenSet`` and ``Case`` records. Also the shipped JSON Schemas, ``{{var}}``
templates, the ``init`` scaffold and the text-preserving rewrite of a prompt's messages.
Imports nothing else of promptloop but ``errors``.
"""
