"""Benchmarks that print the README's tables; run each as ``python -m bench.NAME`` from the repository root."""
