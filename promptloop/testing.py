"""Fakes for users' tests: ``FakeModel`` (scripted answers, recorded history) and ``FakeServer``
(a local OpenAI-compatible server on 127.0.0.1). They live in :mod:`promptloop.model.fakes`."""

from promptloop.model.fakes import FakeModel, FakeServer

__all__ = ["FakeModel", "FakeServer"]

if __name__ == "__main__":  # python -m promptloop.testing --port P --latency S (for benchmarks)
    from promptloop.model.fakes import main

    main()
