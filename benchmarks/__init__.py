"""Benchmarks (``make bench``): side-by-side ratios in one run, written to results/latest.json."""
