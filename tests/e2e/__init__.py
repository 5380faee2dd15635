"""End-to-end proof with real OpenTelemetry SDKs (a package so the test modules share helpers by relative import)."""
