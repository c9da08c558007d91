"""Fake provider HTTP servers for tests and the benchmark (real HTTP on loopback)."""
