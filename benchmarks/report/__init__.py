"""Reading results: the results schema, the metric facts, the leaderboard, the plots, the console summary.

Nothing here imports torch or Lightning: a run dir can be read (``ivif-bench leaderboard``,
``ivif-bench plot``, the notebooks) on a machine that only has the results.
"""
