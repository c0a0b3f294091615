"""Benchmarks that run our code and a named peer on the same data in one run (not tests)."""
