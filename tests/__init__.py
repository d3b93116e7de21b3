"""Tests (a package, so test modules can share helpers from tests.conftest)."""
