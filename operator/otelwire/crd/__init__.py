"""The CustomResourceDefinition, generated from the pydantic model.

``generating`` turns the JSON schema pydantic emits for
``otelwire.spec.MonitoredServiceSpec`` into a *structural* OpenAPI v3 schema the
API server accepts; ``otelwire crd`` prints it and a test keeps the checked-in
``crds/monitoredservices.otelwire.io.yaml`` equal to it.
"""

from otelwire.crd.generating import crd_manifest, crd_yaml

__all__ = ["crd_manifest", "crd_yaml"]
