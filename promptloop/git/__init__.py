"""Git: reading prompt history, committing on a branch without touching the user's index, the gate.

``commits`` wraps GitPython (blob ids, files at a revision, commits through a temporary index);
``history`` serves ``log``, ``diff`` and ``rollback``; ``regress`` scores changed prompts against
the base revision for CI.
"""
