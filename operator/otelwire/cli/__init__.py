"""The ``otelwire`` command line: ``render``, ``doctor``, ``crd`` and ``run``.

Each subcommand is a thin shell over the pure core: read documents
(``reading``), call the planner or the checks, print.  Errors a person made
are one line each on stderr with exit code 2; no tracebacks.
"""
