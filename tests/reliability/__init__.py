"""Reliability and security suite (a package, so that its conftest.py and modules do not
shadow the top-level ``tests/conftest.py`` that other test modules import by name)."""
