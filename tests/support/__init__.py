"""Helpers shared by the test packages (real processes, free ports)."""
