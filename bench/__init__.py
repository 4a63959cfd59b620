"""Benchmarks from DESIGN.md ("Performance budgets"), run by `make bench`.

`python -m bench` runs every benchmark here and prints one table per scenario. Timings
are never asserted: each scenario reports medians and a ratio against a baseline run
in the same process, at the same moment (machines are noisy), and the exit status only
reflects correctness (errors, overbooking), never a missed throughput budget.
"""
