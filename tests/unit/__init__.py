"""Unit tests: the pure core (model, planner, CRD generator) and the CLI, no cluster needed."""
