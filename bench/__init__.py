"""Benchmarks (`make bench`): this framework against Flask in the same run, reported as ratios."""
