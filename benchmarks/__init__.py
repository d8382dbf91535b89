"""ember against PyTorch on the same workloads, each framework timed in its own process.

Run ``python -m benchmarks`` (see ``--help``); results go to ``benchmarks/RESULTS.md``.
This package imports nothing heavy at import time: the worker must set the thread
variables before NumPy loads.
"""
