"""Metric and method facts: what a reader needs to rank and order results, recorded with them.

A result is only readable with its metric's facts: the direction ("higher is
better"), unit, convention and definition. They travel with the results, so a
leaderboard is ranked the way the run that computed the values meant, whether
or not the metric (a plugin's, say) is registered where the results are read:

* every done marker of a run dir holds the facts of its metrics and method;
  ``RUN/metrics.json`` and ``RUN/methods.json`` gather them (the runner writes
  them with ``results.csv``);
* ``ivif-bench evaluate --out results.csv`` writes ``results.metrics.json``
  beside it (:func:`write_metric_facts`).

A metric without recorded facts has no known direction: the leaderboard,
plots, study report and notebooks show its values and never rank it.
Nothing here imports torch.

Example:
    >>> facts = Facts.from_records([{"name": "MSE", "convention": "default", "higher_is_better": False,
    ...                             "unit": "gray levels squared", "definition": "mean squared error"}])
    >>> facts.higher_is_better("MSE", "default"), facts.higher_is_better("EN", "default")
    (False, None)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from benchmarks.provenance import read_json, write_json
from datamodules.errors import UserError

__all__ = ["HEADLINE_METRICS", "METHOD_FACTS_FILE", "METRIC_FACTS_FILE", "Facts", "arrow", "facts_path", "method_facts_of",
           "metric_facts_of", "read_facts", "registry_facts", "write_metric_facts"]

#: the six metrics of the DIDFuse paper's Table 4 and Figure 5: the CPU profiles' and the study's default, and
#: the columns of the console summary (the whole set, Haghighat's FMI above all, costs minutes per full-size
#: image on a 2-core CPU)
HEADLINE_METRICS = ("EN", "MI", "SD", "SF", "VIF", "AG")
METRIC_FACTS_FILE = "metrics.json"
METHOD_FACTS_FILE = "methods.json"
#: the keys of a metric's facts (a ``MetricInfo`` may add more, e.g. its colour rule)
METRIC_KEYS = ("name", "convention", "higher_is_better", "unit", "definition", "reference")
UNKNOWN = "no facts recorded with these results: direction unknown, not ranked"


def metric_facts_of(info: Any) -> dict[str, Any]:
    """The facts of a ``metrics.MetricInfo`` (read by attribute: no torch here), JSON-ready."""
    facts = {key: getattr(info, key) for key in METRIC_KEYS}
    facts["higher_is_better"] = bool(facts["higher_is_better"])
    for extra in ("color_rule",):
        if getattr(info, extra, None) is not None:
            facts[extra] = getattr(info, extra)
    return facts


def method_facts_of(cls: type) -> dict[str, Any]:
    """The facts of a method's class: its class path, and whether it is a reference rule (no training)."""
    return {"class_path": f"{cls.__module__}.{cls.__qualname__}",
            "needs_training": bool(getattr(cls, "needs_training", True))}


@dataclass
class Facts:
    """The metric facts (per (name, convention)) and method facts (per name) of some results.

    Attributes:
        metrics: ``{(name, convention): {"higher_is_better", "unit", "definition", ...}}``, in recorded order.
        methods: ``{name: {"class_path", "needs_training"}}``.
    """

    metrics: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    methods: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_records(cls, metrics: Iterable[Mapping[str, Any]] = (),
                     methods: Mapping[str, Mapping[str, Any]] | None = None, where: Any = "facts") -> Facts:
        """Facts from records (a marker's, a file's); the same metric twice with other facts is an error."""
        facts = cls()
        facts.add(metrics, methods or {}, where)
        return facts

    def add(self, metrics: Iterable[Mapping[str, Any]], methods: Mapping[str, Mapping[str, Any]], where: Any) -> None:
        """Merge records in. Raises :class:`UserError` naming ``where`` on a conflict."""
        for record in metrics:
            key = (str(record["name"]), str(record["convention"]))
            record = dict(record)
            known = self.metrics.get(key)
            if known is not None and known["higher_is_better"] != record["higher_is_better"]:
                raise UserError(f"{where}: metric {key[0]} ({key[1]}) is recorded as "
                                f"{_direction(known['higher_is_better'])} and as {_direction(record['higher_is_better'])}; "
                                "results of two different metrics under one name cannot be ranked together")
            self.metrics.setdefault(key, record)
        for name, record in methods.items():
            known = self.methods.get(name)
            if known is not None and known.get("class_path") != record.get("class_path"):
                raise UserError(f"{where}: method {name} is recorded as {known.get('class_path')} and as "
                                f"{record.get('class_path')}")
            self.methods.setdefault(name, dict(record))

    def merged(self, other: Facts, where: Any = "facts") -> Facts:
        """These facts and ``other``'s (a conflict raises :class:`UserError`)."""
        facts = Facts(dict(self.metrics), dict(self.methods))
        facts.add(other.metrics.values(), other.methods, where)
        return facts

    # ---------------------------------------------------------------- metrics
    def metric(self, name: str, convention: str = "default") -> dict[str, Any] | None:
        return self.metrics.get((name, convention))

    def higher_is_better(self, name: str, convention: str = "default") -> bool | None:
        """The metric's direction; ``None`` when no facts were recorded for it (then never rank it)."""
        record = self.metric(name, convention)
        return None if record is None else bool(record["higher_is_better"])

    def unit(self, name: str, convention: str = "default") -> str:
        record = self.metric(name, convention)
        return "" if record is None else str(record.get("unit") or "")

    def definition(self, name: str, convention: str = "default") -> str:
        record = self.metric(name, convention)
        return UNKNOWN if record is None else str(record.get("definition") or "")

    def metric_order(self, names: Iterable[str], convention: str = "default") -> list[str]:
        """``names`` in recorded order (the run's), any without facts after them in the order given."""
        names = list(dict.fromkeys(names))
        known = [name for name, conv in self.metrics if conv == convention]
        return [m for m in dict.fromkeys(known) if m in names] + [m for m in names if m not in known]

    # ---------------------------------------------------------------- methods
    def is_reference(self, method: str) -> bool:
        """Whether ``method`` is a reference rule (``needs_training = False``), as recorded."""
        return not self.methods.get(method, {}).get("needs_training", True)

    def method_order(self, methods: Iterable[str]) -> list[str]:
        """Reference rules first, then the trained methods, each group in alphabetical order."""
        methods = sorted(dict.fromkeys(methods))
        return [m for m in methods if self.is_reference(m)] + [m for m in methods if not self.is_reference(m)]

    # ---------------------------------------------------------------- files
    def write(self, root: str | os.PathLike) -> list[Path]:
        """Write ``root/metrics.json`` and ``root/methods.json`` (atomically)."""
        root = Path(root)
        return [_write_metrics(root / METRIC_FACTS_FILE, list(self.metrics.values())),
                write_json(root / METHOD_FACTS_FILE, {"kind": "ivif-bench method facts", "methods": self.methods})]


def arrow(higher: Any) -> str:
    """``↑`` higher is better, ``↓`` lower is better, ``?`` unknown (``None`` or NaN, as a CSV gives it back)."""
    if higher is None or (isinstance(higher, float) and higher != higher):
        return "?"
    return "↑" if bool(higher) else "↓"


def _direction(higher: bool) -> str:
    return "higher is better" if higher else "lower is better"


def _write_metrics(path: Path, records: Sequence[Mapping[str, Any]]) -> Path:
    return write_json(path, {"kind": "ivif-bench metric facts", "metrics": [dict(r) for r in records]})


def facts_path(path: str | os.PathLike) -> Path:
    """Where the metric facts of ``path`` live: ``DIR/metrics.json`` for a folder, ``results.metrics.json``
    beside a file ``results.csv``."""
    path = Path(path)
    return path / METRIC_FACTS_FILE if path.is_dir() or not path.suffix else path.with_suffix(".metrics.json")


def write_metric_facts(path_or_dir: str | os.PathLike, infos: Iterable[Any]) -> Path:
    """Record the facts of ``infos`` (``metrics.MetricInfo`` s) with the results at ``path_or_dir``.

    Args:
        path_or_dir: a results folder (writes ``metrics.json`` in it) or a results
            file such as ``tno.csv`` (writes ``tno.metrics.json`` beside it).
        infos: the registry entries of the metrics the results hold.

    Returns:
        The file written (atomically).
    """
    return _write_metrics(facts_path(path_or_dir), [metric_facts_of(info) for info in infos])


def read_facts(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> Facts:
    """The facts recorded with one or several run dirs (or results files), merged; missing files give none.

    Raises:
        UserError: an unreadable facts file, or two runs recording one metric with other directions.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    facts = Facts()
    for path in paths:
        path = Path(path)
        metric_file = facts_path(path)
        records = _records(metric_file, "metrics")
        method_file = path / METHOD_FACTS_FILE
        methods = _records(method_file, "methods") if path.is_dir() else {}
        facts.add(records or [], methods or {}, metric_file if records else path)
    return facts


def _records(path: Path, key: str) -> Any:
    if not path.is_file():
        return None
    try:
        return read_json(path)[key]
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{path}: not an ivif-bench facts file (no {key!r} list)") from None


def registry_facts(metrics: Iterable[tuple[str, str]] = (), methods: Iterable[str] = ()) -> Facts:
    """Facts from this installation's registries (imports the metric and method packages, hence torch).

    For results made in memory; results on disk carry their own (:func:`read_facts`).

    Args:
        metrics: ``(name, convention)`` pairs.
        methods: registered method names.
    """
    from lightning_modules import get_method_class
    from metrics import get_metric_info

    return Facts.from_records([metric_facts_of(get_metric_info(name, convention)) for name, convention in metrics],
                              {name: method_facts_of(get_method_class(name)) for name in methods}, "the registries")
