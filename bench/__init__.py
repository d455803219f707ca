"""Benchmarks: how fast and how big the engine is. Run with ``./dev bench`` (or ``--smoke``)."""
