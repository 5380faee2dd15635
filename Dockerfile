# The operator image: slim, non-root, pinned base, no build tools in the final stage.
#   docker build -t ghcr.io/otelwire/otelwire:0.1.0 .
# (No image can be built on the development machines; tests/unit/test_manifests.py lints this file.)
FROM python:3.11.14-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11.14-slim-bookworm
LABEL org.opencontainers.image.source="https://github.com/otelwire/otelwire" \
      org.opencontainers.image.description="otelwire: wire Kubernetes services into end-to-end observability"
COPY --from=build /install /usr/local
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65532:65532
ENTRYPOINT ["otelwire"]
CMD ["run"]
