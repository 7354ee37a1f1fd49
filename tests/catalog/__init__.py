"""Acceptance cases of the catalog pass (a package, so that its modules import each other
relatively and do not shadow the top-level test helpers)."""
