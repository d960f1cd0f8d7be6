"""Benchmarks that print numbers (never timed tests). Run all with `python -m bench`."""
