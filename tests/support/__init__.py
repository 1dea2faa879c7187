"""Helpers shared by tests: test servers and fakes."""
