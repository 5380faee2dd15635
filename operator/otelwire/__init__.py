"""otelwire: wire Kubernetes services into end-to-end observability.

The package is layered so data flows one way (see ``docs/architecture.md``)::

    spec (pydantic, ``otelwire.spec``) -> plan (pure, ``otelwire.plan``)
        -> apply (webhook | patch | render)
    observed objects -> assess (pure, ``otelwire.assess``) -> conditions -> status

Pure modules import nothing from kopf or the Kubernetes client.
"""

__version__ = "0.1.0"
