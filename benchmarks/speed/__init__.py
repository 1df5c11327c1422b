"""Speed scripts: each times ivif-bench against a peer implementation in the same run (not part of the tests).

Run them as ``python benchmarks/speed/<script>.py`` or ``python -m benchmarks.speed.<script>``.
"""
