"""The install a user runs, as shipped: the README's lines, real cert-manager, the operator as its Deployment runs it."""
