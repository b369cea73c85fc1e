"""The model seam: the one place that talks to litellm, a provider or the embedded model.

In: ``Request`` records. Out: ``Completion`` records, with retries, a per-call timeout, a cache
written as results arrive, budgets and one error tree. Everything else receives a ``ModelClient``
as an argument, so tests pass a fake (``promptloop.testing``).
"""
