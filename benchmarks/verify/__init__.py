"""Verification scripts: ivif-bench against the reference codes and the authors' released outputs (not tests).

Run them as ``python benchmarks/verify/<script>.py`` or ``python -m benchmarks.verify.<script>``.
"""
