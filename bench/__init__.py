"""Benchmarks of eventspec's generated code against its baselines (issue #8).

Run ``python -m bench`` (or ``make bench``); ``python -m bench --help`` lists the options.
"""
