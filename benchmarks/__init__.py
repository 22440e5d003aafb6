"""Benchmarks run by ``make bench``: each figure is a ratio measured within one run."""
