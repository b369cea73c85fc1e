"""Production traces: exports in, normalised ``Trace`` records with verdicts in a local store out.

``formats`` has one module per export format (``detect`` and ``parse``); ``importer`` streams files
into ``store``; ``verdicts`` turns feedback and the prompt's checks into pass/fail; ``redact`` masks
secrets before anything is stored; ``to_golden`` turns traces into golden cases; ``canary`` compares
two prompt versions on live traffic.
"""
