"""Metric facts: what a reader needs to rank and read a metric (direction, unit, definition), in one place.

Example:
    >>> from benchmarks.report.facts import HEADLINE_METRICS
    >>> HEADLINE_METRICS
    ('EN', 'MI', 'SD', 'SF', 'VIF', 'AG')
"""

from __future__ import annotations

__all__ = ["HEADLINE_METRICS", "metric_facts"]

#: the six metrics of the DIDFuse paper's Table 4 and Figure 5: the CPU profiles' and the study's default, and
#: the columns of the console summary (the whole set, Haghighat's FMI above all, costs minutes per full-size
#: image on a 2-core CPU)
HEADLINE_METRICS = ("EN", "MI", "SD", "SF", "VIF", "AG")


def metric_facts(metric: str, convention: str) -> tuple[bool, str, str]:
    """(higher_is_better, unit, definition) from the metric registry; unknown metrics rank up."""
    try:
        from metrics import get_metric_info

        info = get_metric_info(metric, convention)
    except KeyError:
        return True, "", "(not in this installation's metric registry)"
    return bool(info.higher_is_better), info.unit, info.definition
